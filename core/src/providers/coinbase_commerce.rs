//! `coinbase-commerce`: `X-CC-Webhook-Signature`, hex HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(CoinbaseCommerce {
    name: "coinbase-commerce",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header X-CC-Webhook-Signature (no prefix)",
    idempotency_key: "body event.id",
    doc: "Coinbase Commerce webhooks (not Coinbase CDP, which uses another scheme). The secret is the endpoint's shared secret as UTF-8. No signed timestamp. The body's top-level id identifies the delivery, event.id and event.type the event.",
    doc_url: "https://docs.cdp.coinbase.com/commerce-onchain/docs/webhooks-security",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let event_id = json_str(json.as_ref(), &["event", "id"]);
    let meta = Metadata {
        event_id: event_id.clone(),
        event_type: json_str(json.as_ref(), &["event", "type"]),
        delivery_id: json_str(json.as_ref(), &["id"]),
        idempotency_key: event_id,
    };
    let r = verify_body_hmac(req, ctx, "X-CC-Webhook-Signature", &[], HmacAlgorithm::Sha256, Encoding::Hex);
    finish(meta, r)
}
