//! `linear`: `Linear-Signature`, hex HMAC-SHA256 of the raw body; freshness from the body's
//! `webhookTimestamp` (milliseconds).

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Linear {
    name: "linear",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, header Linear-Signature (no prefix); body webhookTimestamp (ms) within tolerance",
    idempotency_key: "Linear-Delivery header (UUID per delivery)",
    doc: "Linear workspace and OAuth app webhooks. The secret is the webhook signing secret (lin_wh_...) as UTF-8. As in Linear's SDK (LinearWebhookClient) freshness comes from the signed body field webhookTimestamp in milliseconds, checked after the signature, default 60 s in the past and 60 s in the future; a body without it is rejected with missing_timestamp. The event type is type.action (Issue.create, Comment.update, ...). data.id is the entity id and is not used as a key.",
    doc_url: "https://linear.app/developers/webhooks#securing-webhooks",
    options: tolerance_option_specs("60"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let j = json.as_ref();
    let event_type = match (json_str(j, &["type"]), json_str(j, &["action"])) {
        (Some(t), Some(a)) => Some(format!("{t}.{a}")),
        (t, a) => t.or(a).or_else(|| header_string(req, "Linear-Event")),
    };
    let delivery = header_string(req, "Linear-Delivery");
    let meta = Metadata { event_id: None, event_type, delivery_id: delivery.clone(), idempotency_key: delivery };
    let result = verify_body_hmac(req, ctx, "Linear-Signature", &[], HmacAlgorithm::Sha256, Encoding::Hex)
        .and_then(|i| {
            let ts_ms = json_path(j, &["webhookTimestamp"]).ok_or_else(|| {
                Rejection::new(codes::MISSING_TIMESTAMP, "body has no webhookTimestamp")
            })?;
            let ts_ms = ts_ms.as_i64().ok_or_else(|| {
                Rejection::new(codes::MALFORMED_TIMESTAMP, "body webhookTimestamp is not an integer of milliseconds")
            })?;
            Tolerance::from_options(ctx.options, Tolerance::symmetric(60)).check(ts_ms.div_euclid(1000), ctx.now_s)?;
            Ok(i)
        });
    finish(meta, result)
}
