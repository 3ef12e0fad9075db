//! `zoom`: `x-zm-signature: v0=<hex>` over `v0:<x-zm-request-timestamp>:<body>`, plus the
//! `endpoint.url_validation` challenge.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Zoom {
    name: "zoom",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of \"v0:\" + x-zm-request-timestamp + \":\" + raw body, hex, header x-zm-signature with v0= prefix",
    idempotency_key: "none: Zoom sends no event id (x-zm-trackingid is reported as the delivery id)",
    doc: "Zoom app event subscriptions. The secret is the app's Secret Token as UTF-8. Default tolerance 300 s in the past and 300 s in the future (Zoom does not document one). A signed endpoint.url_validation request is answered with JSON {plainToken, encryptedToken} where encryptedToken is the hex HMAC-SHA256 of plainToken under the secret that verified. The event type is the body's event.",
    doc_url: "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events",
    options: tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let j = json.as_ref();
    let meta = Metadata {
        event_type: json_str(j, &["event"]),
        delivery_id: header_string(req, "x-zm-trackingid"),
        ..Metadata::default()
    };
    match check(req, ctx) {
        Ok(i) => {
            let mut v = Verification::valid(meta, Some(i));
            if json_str(j, &["event"]).as_deref() == Some("endpoint.url_validation") {
                if let Some(plain) = json_path(j, &["payload", "plainToken"]).and_then(|v| v.as_str()) {
                    let key = ctx.secrets.get(i).map(|s| s.expose()).unwrap_or_default();
                    let encrypted = hex::encode(hmac(HmacAlgorithm::Sha256, key, &[plain.as_bytes()]));
                    let body = serde_json::json!({"plainToken": plain, "encryptedToken": encrypted});
                    v.handshake = Some(HandshakeResponse {
                        status_code: 200,
                        content_type: "application/json".into(),
                        body: body.to_string().into_bytes(),
                    });
                }
            }
            v
        }
        Err(r) => Verification::invalid(meta, r),
    }
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let ts_header = "x-zm-request-timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?.trim();
    let ts = parse_int_timestamp(ts_text, ts_header)?;
    let header = "x-zm-signature";
    let raw = require_header(req, header)?;
    let presented = strip_any_prefix(raw, &["v0="])
        .and_then(|s| Encoding::Hex.decode(s))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} must be v0=<hex>")))?;
    let i = match_any_secret(ctx.secrets, &[presented], |key| {
        hmac(HmacAlgorithm::Sha256, key, &[b"v0:", ts_text.as_bytes(), b":", req.body])
    })?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts, ctx.now_s)?;
    Ok(i)
}
