//! `token-header`: a shared secret sent verbatim in a header (GitLab-style tokens, internal
//! senders). Compared in constant time against every active secret.

use crate::provider::*;

pub struct TokenHeader;

impl Provider for TokenHeader {
    fn name(&self) -> &str {
        "token-header"
    }
    fn version(&self) -> &str {
        "1.0.0"
    }
    fn options(&self) -> Vec<OptionSpec> {
        vec![
            OptionSpec { key: "header", kind: OptionKind::String, default: Some("X-Webhook-Token"), doc: "Header carrying the token" },
            OptionSpec { key: "id_header", kind: OptionKind::String, default: None, doc: "Header with the sender's delivery id, used as the idempotency key" },
            OptionSpec { key: "event_type_header", kind: OptionKind::String, default: None, doc: "Header with the event type" },
        ]
    }
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: self.name().into(),
            version: self.version().into(),
            algorithm: "shared token in a header, constant-time comparison".into(),
            options: self.options(),
            idempotency_key: "the id_header option, when set".into(),
            doc: "The sender puts a shared secret in a header. Weaker than a signature (no body integrity); use it only where the sender offers nothing better.".into(),
            doc_url: "https://owasp.org/www-community/controls/Secret_Management".into(),
        }
    }
    fn verify(&self, req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
        let o = ctx.options;
        let mut meta = Metadata::default();
        if let Some(h) = opt_str(o, "id_header") {
            meta.delivery_id = req.header(h).map(str::to_string);
            meta.idempotency_key = meta.delivery_id.clone();
        }
        if let Some(h) = opt_str(o, "event_type_header") {
            meta.event_type = req.header(h).map(str::to_string);
        }
        let header = opt_str(o, "header").unwrap_or("X-Webhook-Token");
        let Some(token) = req.header(header) else {
            return Verification::invalid(meta, Rejection::missing_signature(header));
        };
        for (i, s) in ctx.secrets.iter().enumerate() {
            if ct_eq(s.expose(), token.as_bytes()) {
                return Verification::valid(meta, Some(i));
            }
        }
        Verification::invalid(meta, Rejection::new(codes::SIGNATURE_MISMATCH, format!("{header} does not match any active token")))
    }
}
