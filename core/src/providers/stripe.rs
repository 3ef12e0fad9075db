//! `stripe`: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>...]`.

use crate::provider::*;
use crate::providers::util::*;

const SCHEME: ListScheme = ListScheme {
    header: "Stripe-Signature",
    separator: ',',
    timestamp_key: "t",
    signature_key: "v1",
    joiner: ".",
    millis: false,
};

curated_provider!(Stripe {
    name: "stripe",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of t + \".\" + raw body, hex, any v1= element of Stripe-Signature",
    idempotency_key: "body id (evt_..., reused by Stripe's retries)",
    doc: "Stripe webhook endpoints. The secret is the endpoint's whsec_... signing secret used verbatim as UTF-8 bytes (it is NOT base64-decoded, unlike Svix). Any v1 signature may match any active secret (Stripe sends one v1 per secret while you roll it); v0 and unknown schemes are ignored. As in Stripe's SDK the signature is checked first, then the timestamp: default tolerance 300 s in the past and 300 s in the future.",
    doc_url: "https://docs.stripe.com/webhooks#verify-events",
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
