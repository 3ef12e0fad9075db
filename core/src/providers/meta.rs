//! `meta`: Facebook / Instagram / WhatsApp / Messenger webhooks, `X-Hub-Signature-256`.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Meta {
    name: "meta",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header X-Hub-Signature-256 with sha256= prefix",
    idempotency_key: "none: Meta sends no delivery id (per-entry ids live inside entry[])",
    doc: "Meta Graph API webhooks (Facebook pages, Instagram, WhatsApp Business, Messenger). The secret is the App Secret as UTF-8. Verify against the raw bytes: Meta escapes non-ASCII as \\uXXXX and a re-serialised body will not verify. The event type is the body's object field (page, instagram, whatsapp_business_account). The GET hub.challenge subscription check is a separate, unsigned request the app answers itself.",
    doc_url: "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let meta = Metadata { event_type: json_str(json.as_ref(), &["object"]), ..Metadata::default() };
    let r = verify_body_hmac(req, ctx, "X-Hub-Signature-256", &["sha256="], HmacAlgorithm::Sha256, Encoding::Hex);
    finish(meta, r)
}
