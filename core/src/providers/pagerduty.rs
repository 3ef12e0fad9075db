//! `pagerduty`: V3 webhook subscriptions, `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Pagerduty {
    name: "pagerduty",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of the raw body, hex, any v1= element of X-PagerDuty-Signature",
    idempotency_key: "body event.id",
    doc: "PagerDuty V3 webhook subscriptions. The secret is the subscription's signing secret as UTF-8. During rotation PagerDuty sends several comma-separated v1= signatures; any may match any active secret. No signed timestamp. The event type is the body's event.event_type (incident.triggered, ...).",
    doc_url: "https://developer.pagerduty.com/docs/webhooks-overview#webhook-signatures",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["event", "id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["event", "event_type"]),
        delivery_id: header_string(req, "X-Webhook-Id"),
        idempotency_key: id,
    };
    finish(meta, check(req, ctx))
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let header = "X-PagerDuty-Signature";
    let raw = require_header(req, header)?;
    let candidates: Vec<Vec<u8>> = kv_list(raw, ',')
        .into_iter()
        .filter(|(k, _)| *k == "v1")
        .filter_map(|(_, v)| Encoding::Hex.decode(v))
        .filter(|v| !v.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(Rejection::malformed(format!("{header} has no hex v1= signature")));
    }
    match_any_secret(ctx.secrets, &candidates, |key| hmac(HmacAlgorithm::Sha256, key, &[req.body]))
}
