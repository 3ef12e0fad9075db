//! `bearer-token`: `Authorization: Bearer <token>`.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(BearerToken {
    name: "bearer-token",
    version: "1.0.0",
    algorithm: "Authorization: Bearer <token>, token equal to a secret (constant-time)",
    idempotency_key: "the id_header option, when set",
    doc: "For middlemen (Zapier, n8n, Make, internal services) that send a static bearer token. No body integrity and no replay protection. The event id and type are read from the body's id and type when it is JSON.",
    doc_url: "https://datatracker.ietf.org/doc/html/rfc6750#section-2.1",
    options: vec![
        OptionSpec { key: "id_header", kind: OptionKind::String, default: None, doc: "Header with the sender's delivery id, used as the idempotency key" },
    ],
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = opt_str(ctx.options, "id_header").and_then(|h| header_string(req, h));
    let meta = Metadata {
        event_id: json_str(json.as_ref(), &["id"]),
        event_type: json_str(json.as_ref(), &["type"]),
        delivery_id: id.clone(),
        idempotency_key: id,
    };
    let result = require_header(req, "Authorization").and_then(|raw| {
        let raw = raw.trim();
        let (scheme, token) = raw.split_once(' ').unwrap_or((raw, ""));
        if !scheme.eq_ignore_ascii_case("Bearer") || token.trim().is_empty() {
            return Err(Rejection::malformed("Authorization must be Bearer <token>"));
        }
        match_token(ctx.secrets, token.trim().as_bytes())
            .ok_or_else(|| Rejection::new(codes::SIGNATURE_MISMATCH, "bearer token does not match any active secret"))
    });
    finish(meta, result)
}
