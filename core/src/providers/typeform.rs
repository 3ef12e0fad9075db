//! `typeform`: `Typeform-Signature: sha256=<base64>`, HMAC-SHA256 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Typeform {
    name: "typeform",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, base64 (not hex), header Typeform-Signature with sha256= prefix",
    idempotency_key: "body event_id",
    doc: "Typeform form-response webhooks. The secret is the webhook secret as UTF-8. Note the signature is base64 after the sha256= prefix. No signed timestamp. The event type is the body's event_type (form_response).",
    doc_url: "https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["event_id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["event_type"]),
        delivery_id: None,
        idempotency_key: id,
    };
    let r = verify_body_hmac(req, ctx, "Typeform-Signature", &["sha256="], HmacAlgorithm::Sha256, Encoding::Base64);
    finish(meta, r)
}
