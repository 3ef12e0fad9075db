//! `intercom`: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Intercom {
    name: "intercom",
    version: "1.0.0",
    algorithm: "HMAC-SHA1 of the raw body, hex, header X-Hub-Signature with sha1= prefix",
    idempotency_key: "body id (the notification id, notif_...)",
    doc: "Intercom app webhooks. The secret is the app's client_secret as UTF-8. Intercom signs with SHA-1 and sends no timestamp. The event type is the body's topic.",
    doc_url: "https://developers.intercom.com/docs/references/webhooks/webhook-models#signed-notifications",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["topic"]).or_else(|| json_str(json.as_ref(), &["type"])),
        delivery_id: None,
        idempotency_key: id,
    };
    let r = verify_body_hmac(req, ctx, "X-Hub-Signature", &["sha1="], HmacAlgorithm::Sha1, Encoding::Hex);
    finish(meta, r)
}
