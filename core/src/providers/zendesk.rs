//! `zendesk`: `X-Zendesk-Webhook-Signature`, base64 HMAC-SHA256 of timestamp + body, with the
//! ISO-8601 timestamp enforced.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Zendesk {
    name: "zendesk",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of X-Zendesk-Webhook-Signature-Timestamp + raw body, base64, header X-Zendesk-Webhook-Signature",
    idempotency_key: "body id (event-subscription payloads); trigger/automation payloads are user-defined and may have none",
    doc: "Zendesk webhooks. The secret is the webhook's signing secret used verbatim as UTF-8 (it looks like base64 but is not decoded). The timestamp header is an ISO-8601 / RFC 3339 date-time such as 2021-07-25T10:00:00Z; it is signed as sent and enforced with a default tolerance of 300 s in the past and 300 s in the future (Zendesk documents none; the prior art never enforced it). A GET/DELETE without body signs the timestamp alone. The event type is the body's type (zen:event-type:...).",
    doc_url: "https://developer.zendesk.com/documentation/webhooks/verifying/",
    options: tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let j = json.as_ref();
    let id = json_str(j, &["id"]);
    let meta = Metadata {
        event_id: id.clone().or_else(|| json_str(j, &["ticket_id"])),
        event_type: json_str(j, &["type"]),
        delivery_id: None,
        idempotency_key: id,
    };
    finish(meta, check(req, ctx))
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let ts_header = "X-Zendesk-Webhook-Signature-Timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?.trim();
    let ts = rfc3339_to_unix(ts_text).ok_or_else(|| {
        Rejection::new(codes::MALFORMED_TIMESTAMP, format!("{ts_header} is not an ISO-8601 date-time"))
    })?;
    let header = "X-Zendesk-Webhook-Signature";
    let raw = require_header(req, header)?;
    let presented = Encoding::Base64
        .decode(raw)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} is not base64")))?;
    let i = match_any_secret(ctx.secrets, &[presented], |key| {
        hmac(HmacAlgorithm::Sha256, key, &[ts_text.as_bytes(), req.body])
    })?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts, ctx.now_s)?;
    Ok(i)
}
