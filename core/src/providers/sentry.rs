//! `sentry`: `Sentry-Hook-Signature`, hex HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Sentry {
    name: "sentry",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header Sentry-Hook-Signature (no prefix)",
    idempotency_key: "Request-ID header",
    doc: "Sentry integration-platform webhooks. The secret is the integration's client secret as UTF-8. Sentry-Hook-Timestamp is sent but not signed, so it is not checked. The event type is Sentry-Hook-Resource plus the body's action (issue.created, ...).",
    doc_url: "https://docs.sentry.io/organization/integrations/integration-platform/webhooks/#verifying-the-signature",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let resource = header_string(req, "Sentry-Hook-Resource");
    let action = json_str(json.as_ref(), &["action"]);
    let event_type = match (resource, action) {
        (Some(r), Some(a)) => Some(format!("{r}.{a}")),
        (r, a) => r.or(a),
    };
    let request_id = header_string(req, "Request-ID");
    let meta = Metadata { event_id: None, event_type, delivery_id: request_id.clone(), idempotency_key: request_id };
    let r = verify_body_hmac(req, ctx, "Sentry-Hook-Signature", &[], HmacAlgorithm::Sha256, Encoding::Hex);
    finish(meta, r)
}
