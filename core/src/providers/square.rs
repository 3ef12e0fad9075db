//! `square`: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of notification URL + body.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Square {
    name: "square",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the notification URL + raw body, base64, header x-square-hmacsha256-signature",
    idempotency_key: "body event_id (Square's docs say to dedupe on it)",
    doc: "Square webhook subscriptions. The secret is the subscription's signature key as UTF-8. The signed URL must be exactly the notification URL configured in Square: pass the request URL or set the url option (otherwise missing_url). The legacy SHA-1 x-square-signature header is not accepted. No signed timestamp. The event type is the body's type.",
    doc_url: "https://developer.squareup.com/docs/webhooks/step3validate",
    options: vec![OptionSpec {
        key: "url",
        kind: OptionKind::String,
        default: None,
        doc: "The notification URL exactly as configured in Square (overrides the request URL)",
    }],
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["event_id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["type"]),
        delivery_id: None,
        idempotency_key: id,
    };
    finish(meta, check(req, ctx))
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let url = opt_str(ctx.options, "url")
        .or(req.url)
        .ok_or_else(|| Rejection::new(codes::MISSING_URL, "square signs the notification URL: pass the request URL or set the url option"))?;
    let header = "x-square-hmacsha256-signature";
    let raw = require_header(req, header)?;
    let presented = Encoding::Base64
        .decode(raw)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} is not base64")))?;
    match_any_secret(ctx.secrets, &[presented], |key| hmac(HmacAlgorithm::Sha256, key, &[url.as_bytes(), req.body]))
}
