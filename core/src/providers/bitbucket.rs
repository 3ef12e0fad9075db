//! `bitbucket`: `X-Hub-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Bitbucket {
    name: "bitbucket",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header X-Hub-Signature with sha256= prefix",
    idempotency_key: "X-Request-UUID header (Bitbucket Cloud), else X-Request-Id (Data Center)",
    doc: "Bitbucket Cloud and Data Center webhooks with a secret. The secret is the webhook secret as UTF-8. No signed timestamp. The event type is X-Event-Key (repo:push, pullrequest:created, ...).",
    doc_url: "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let delivery = header_string(req, "X-Request-UUID").or_else(|| header_string(req, "X-Request-Id"));
    let meta = Metadata {
        event_id: None,
        event_type: header_string(req, "X-Event-Key"),
        delivery_id: delivery.clone(),
        idempotency_key: delivery,
    };
    let r = verify_body_hmac(req, ctx, "X-Hub-Signature", &["sha256="], HmacAlgorithm::Sha256, Encoding::Hex);
    finish(meta, r)
}
