//! `vercel`: `x-vercel-signature`, hex HMAC-SHA1 of the raw body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Vercel {
    name: "vercel",
    version: "1.0.0",
    algorithm: "HMAC-SHA1 of the raw body, hex, header x-vercel-signature (no prefix)",
    idempotency_key: "body id (the webhook event id)",
    doc: "Vercel account and integration webhooks. The secret is the webhook secret (or the integration's client secret) as UTF-8. Vercel signs with SHA-1 and sends no timestamp. Event type is the body's type (deployment.created, ...).",
    doc_url: "https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["type"]),
        delivery_id: None,
        idempotency_key: id,
    };
    let r = verify_body_hmac(req, ctx, "x-vercel-signature", &[], HmacAlgorithm::Sha1, Encoding::Hex);
    finish(meta, r)
}
