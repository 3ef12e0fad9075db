//! `github`: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Github {
    name: "github",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header X-Hub-Signature-256 with sha256= prefix",
    idempotency_key: "X-GitHub-Delivery header (the delivery GUID, reused by redeliveries)",
    doc: "GitHub repository, organisation and app webhooks. The secret is the webhook secret as UTF-8. GitHub sends no timestamp, so there is no replay window: dedupe on X-GitHub-Delivery. The legacy SHA-1 X-Hub-Signature header is ignored. Event type comes from X-GitHub-Event.",
    doc_url: "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let meta = Metadata {
        event_id: None,
        event_type: header_string(req, "X-GitHub-Event"),
        delivery_id: header_string(req, "X-GitHub-Delivery"),
        idempotency_key: header_string(req, "X-GitHub-Delivery"),
    };
    let r = verify_body_hmac(req, ctx, "X-Hub-Signature-256", &["sha256="], HmacAlgorithm::Sha256, Encoding::Hex);
    finish(meta, r)
}
