//! `paddle`: Paddle Billing, `Paddle-Signature: ts=<unix s>;h1=<hex>`.

use crate::provider::*;
use crate::providers::util::*;

const SCHEME: ListScheme = ListScheme {
    header: "Paddle-Signature",
    separator: ';',
    timestamp_key: "ts",
    signature_key: "h1",
    joiner: ":",
    millis: false,
};

curated_provider!(Paddle {
    name: "paddle",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of ts + \":\" + raw body, hex, any h1= element of Paddle-Signature",
    idempotency_key: "body event_id (evt_...)",
    doc: "Paddle Billing notification destinations (not Paddle Classic). The secret is the destination's pdl_ntfset_... secret key used verbatim as UTF-8. Any h1 may match any active secret. Paddle documents a 5 second tolerance; the default here is 5 s in the past and 5 s in the future (Paddle's Node SDK only bounds the past). Raise tolerance_s if your clock drifts.",
    doc_url: "https://developer.paddle.com/webhooks/signature-verification",
    options: tolerance_option_specs("5"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["event_id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["event_type"]),
        delivery_id: json_str(json.as_ref(), &["notification_id"]),
        idempotency_key: id,
    };
    let tolerance = Tolerance::from_options(ctx.options, Tolerance::symmetric(5));
    finish(meta, SCHEME.verify(req, ctx, tolerance))
}
