//! `calendly`: `Calendly-Webhook-Signature: t=<unix s>,v1=<hex>`.

use crate::provider::*;
use crate::providers::util::*;

const SCHEME: ListScheme = ListScheme {
    header: "Calendly-Webhook-Signature",
    separator: ',',
    timestamp_key: "t",
    signature_key: "v1",
    joiner: ".",
    millis: false,
};

curated_provider!(Calendly {
    name: "calendly",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of t + \".\" + raw body, hex, v1= element of Calendly-Webhook-Signature",
    idempotency_key: "none: Calendly sends no event or delivery id (payload.uri is the invitee/object)",
    doc: "Calendly webhook subscriptions created with a signing_key. The secret is that signing key as UTF-8. Calendly's example uses a 3 minute window: default tolerance 180 s in the past and 180 s in the future. The event type is the body's event (invitee.created, ...).",
    doc_url: "https://developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures",
    options: tolerance_option_specs("180"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let meta = Metadata { event_type: json_str(json.as_ref(), &["event"]), ..Metadata::default() };
    let tolerance = Tolerance::from_options(ctx.options, Tolerance::symmetric(180));
    finish(meta, SCHEME.verify(req, ctx, tolerance))
}
