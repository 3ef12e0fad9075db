//! `twitch`: EventSub webhooks, `Twitch-Eventsub-Message-Signature: sha256=<hex>` over
//! message id + timestamp + body, plus the `webhook_callback_verification` challenge.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Twitch {
    name: "twitch",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of Twitch-Eventsub-Message-Id + Twitch-Eventsub-Message-Timestamp + raw body (no separators), hex, sha256= prefix",
    idempotency_key: "Twitch-Eventsub-Message-Id header (Twitch resends with the same id)",
    doc: "Twitch EventSub webhook transport. The secret is the subscription's secret as UTF-8. The timestamp is RFC 3339 (nanosecond precision), signed as sent, checked after the signature; Twitch says to reject messages older than 10 minutes, so the default tolerance is 600 s in the past and 600 s in the future. A signed webhook_callback_verification message is answered 200 text/plain with the challenge. The event type is Twitch-Eventsub-Subscription-Type.",
    doc_url: "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message",
    options: tolerance_option_specs("600"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = header_string(req, "Twitch-Eventsub-Message-Id");
    let meta = Metadata {
        event_id: id.clone(),
        event_type: header_string(req, "Twitch-Eventsub-Subscription-Type"),
        delivery_id: id.clone(),
        idempotency_key: id,
    };
    match check(req, ctx) {
        Ok(i) => {
            let mut v = Verification::valid(meta, Some(i));
            let kind = req.header("Twitch-Eventsub-Message-Type").map(str::trim);
            if kind == Some("webhook_callback_verification") {
                if let Some(challenge) = json_str(json.as_ref(), &["challenge"]) {
                    v.handshake = Some(HandshakeResponse {
                        status_code: 200,
                        content_type: "text/plain".into(),
                        body: challenge.into_bytes(),
                    });
                }
            }
            v
        }
        Err(r) => Verification::invalid(meta, r),
    }
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let header = "Twitch-Eventsub-Message-Signature";
    let raw = require_header(req, header)?;
    let id = req.header("Twitch-Eventsub-Message-Id").ok_or_else(|| Rejection::missing_signature("Twitch-Eventsub-Message-Id"))?;
    let ts_header = "Twitch-Eventsub-Message-Timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?;
    let ts = rfc3339_to_unix(ts_text)
        .ok_or_else(|| Rejection::new(codes::MALFORMED_TIMESTAMP, format!("{ts_header} is not an RFC 3339 date-time")))?;
    let presented = strip_any_prefix(raw, &["sha256="])
        .and_then(|s| Encoding::Hex.decode(s))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} must be sha256=<hex>")))?;
    let i = match_any_secret(ctx.secrets, &[presented], |key| {
        hmac(HmacAlgorithm::Sha256, key, &[id.as_bytes(), ts_text.as_bytes(), req.body])
    })?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(600)).check(ts, ctx.now_s)?;
    Ok(i)
}
