//! `mux`: `Mux-Signature: t=<unix s>,v1=<hex>`.

use crate::provider::*;
use crate::providers::util::*;

const SCHEME: ListScheme = ListScheme {
    header: "Mux-Signature",
    separator: ',',
    timestamp_key: "t",
    signature_key: "v1",
    joiner: ".",
    millis: false,
};

curated_provider!(Mux {
    name: "mux",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of t + \".\" + raw body, hex, any v1= element of Mux-Signature",
    idempotency_key: "body id (the event id)",
    doc: "Mux Video/Data webhooks. The secret is the webhook signing secret as UTF-8. Default tolerance 300 s in the past and 300 s in the future. The event type is the body's type (video.asset.ready, ...).",
    doc_url: "https://docs.mux.com/core/verify-webhook-signatures",
    options: tolerance_option_specs("300"),
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
    let tolerance = Tolerance::from_options(ctx.options, Tolerance::symmetric(300));
    finish(meta, SCHEME.verify(req, ctx, tolerance))
}
