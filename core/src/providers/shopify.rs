//! `shopify`: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Shopify {
    name: "shopify",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, base64, header X-Shopify-Hmac-Sha256 (or Shopify-Hmac-Sha256 for event deliveries)",
    idempotency_key: "X-Shopify-Webhook-Id header (stable across Shopify's retries of one delivery)",
    doc: "Shopify app and admin webhooks. The secret is the app's client secret (or the store admin webhook signing key) as UTF-8. After rotating the client secret Shopify may keep signing with the old one for up to an hour: keep both active. There is no signed timestamp. X-Shopify-Event-Id is reported as the event id but is not the dedupe key, because one event can fan out to several topics.",
    doc_url: "https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify",
    options: Vec::new(),
});

fn either(req: &Request<'_>, a: &str, b: &str) -> Option<String> {
    header_string(req, a).or_else(|| header_string(req, b))
}

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let webhook_id = either(req, "X-Shopify-Webhook-Id", "Shopify-Webhook-Id");
    let meta = Metadata {
        event_id: either(req, "X-Shopify-Event-Id", "Shopify-Event-Id"),
        event_type: either(req, "X-Shopify-Topic", "Shopify-Topic"),
        delivery_id: webhook_id.clone(),
        idempotency_key: webhook_id,
    };
    let header = if req.header("X-Shopify-Hmac-Sha256").is_none() && req.header("Shopify-Hmac-Sha256").is_some() {
        "Shopify-Hmac-Sha256"
    } else {
        "X-Shopify-Hmac-Sha256"
    };
    let r = verify_body_hmac(req, ctx, header, &[], HmacAlgorithm::Sha256, Encoding::Base64);
    finish(meta, r)
}
