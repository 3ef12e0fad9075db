//! `workos`: `WorkOS-Signature: t=<unix ms>, v1=<hex>`.

use crate::provider::*;
use crate::providers::util::*;

const SCHEME: ListScheme = ListScheme {
    header: "WorkOS-Signature",
    separator: ',',
    timestamp_key: "t",
    signature_key: "v1",
    joiner: ".",
    millis: true,
};

curated_provider!(Workos {
    name: "workos",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of t + \".\" + raw body (t in milliseconds, as sent), hex, v1= element of WorkOS-Signature",
    idempotency_key: "body id (event_...)",
    doc: "WorkOS webhooks. The secret is the endpoint's webhook secret as UTF-8. The timestamp is in milliseconds; WorkOS's SDK default tolerance is 180 s, used here for both the past and the future. The event type is the body's event field.",
    doc_url: "https://workos.com/docs/events/data-syncing/webhooks/3-process-the-events/b-validate-the-requests-manually",
    options: tolerance_option_specs("180"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(json.as_ref(), &["event"]),
        delivery_id: None,
        idempotency_key: id,
    };
    let tolerance = Tolerance::from_options(ctx.options, Tolerance::symmetric(180));
    finish(meta, SCHEME.verify(req, ctx, tolerance))
}
