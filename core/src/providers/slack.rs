//! `slack`: `X-Slack-Signature: v0=<hex>` over `v0:<timestamp>:<body>`.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Slack {
    name: "slack",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of \"v0:\" + X-Slack-Request-Timestamp + \":\" + raw body, hex, header X-Slack-Signature with v0= prefix",
    idempotency_key: "body event_id (Events API; retries carry X-Slack-Retry-Num with the same event_id)",
    doc: "Slack Events API, slash commands and interactivity. The secret is the app's signing secret as UTF-8. As in Slack's SDKs the timestamp is checked before the signature: default tolerance 300 s in the past and 300 s in the future. A signed url_verification request is answered with its challenge (200, text/plain). Form-encoded bodies (slash commands, payload=) verify but yield no metadata.",
    doc_url: "https://api.slack.com/authentication/verifying-requests-from-slack",
    options: tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let j = json.as_ref();
    let event_id = json_str(j, &["event_id"]);
    let meta = Metadata {
        event_id: event_id.clone(),
        event_type: json_str(j, &["event", "type"]).or_else(|| json_str(j, &["type"])),
        delivery_id: None,
        idempotency_key: event_id,
    };
    match check(req, ctx) {
        Ok(i) => {
            let mut v = Verification::valid(meta, Some(i));
            if json_str(j, &["type"]).as_deref() == Some("url_verification") {
                if let Some(challenge) = json_str(j, &["challenge"]) {
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
    let ts_header = "X-Slack-Request-Timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?.trim();
    let ts = parse_int_timestamp(ts_text, ts_header)?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts, ctx.now_s)?;
    let header = "X-Slack-Signature";
    let raw = require_header(req, header)?;
    let presented = strip_any_prefix(raw, &["v0="])
        .and_then(|s| Encoding::Hex.decode(s))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} must be v0=<hex>")))?;
    match_any_secret(ctx.secrets, &[presented], |key| {
        hmac(HmacAlgorithm::Sha256, key, &[b"v0:", ts_text.as_bytes(), b":", req.body])
    })
}
