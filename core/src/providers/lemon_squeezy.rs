//! `lemon-squeezy`: `X-Signature`, hex HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(LemonSqueezy {
    name: "lemon-squeezy",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header X-Signature (no prefix)",
    idempotency_key: "none: Lemon Squeezy sends no delivery or event id (data.id is the object id, shared by several events)",
    doc: "Lemon Squeezy store webhooks. The secret is the signing secret you chose when creating the webhook, as UTF-8. There is no signed timestamp and no event id; the event type comes from the X-Event-Name header or the body's meta.event_name. The object id (data.id) is reported as the event id for reference only.",
    doc_url: "https://docs.lemonsqueezy.com/help/webhooks/signing-requests",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let meta = Metadata {
        event_id: json_str(json.as_ref(), &["data", "id"]),
        event_type: header_string(req, "X-Event-Name").or_else(|| json_str(json.as_ref(), &["meta", "event_name"])),
        ..Metadata::default()
    };
    let r = verify_body_hmac(req, ctx, "X-Signature", &[], HmacAlgorithm::Sha256, Encoding::Hex);
    finish(meta, r)
}
