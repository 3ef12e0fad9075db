//! `svix`: Svix-delivered webhooks (`svix-id`, `svix-timestamp`, `svix-signature`).

use crate::provider::*;
use crate::providers::standard_webhooks::verify_family;

curated_provider!(Svix {
    name: "svix",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of svix-id + \".\" + svix-timestamp + \".\" + raw body, base64, any v1,<sig> entry of svix-signature",
    idempotency_key: "svix-id header (the message id, identical on every retry)",
    doc: "Any sender delivering through Svix. Same scheme as standard-webhooks with svix-* header names (webhook-* accepted as a fallback, as Svix's library does). The secret is whsec_ + base64: the prefix is stripped and the rest base64-decoded. Timestamp checked first, default 300 s in the past and 300 s in the future.",
    doc_url: "https://docs.svix.com/receiving/verifying-payloads/how-manual",
    options: crate::provider::tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    verify_family(req, ctx, &["svix", "webhook"])
}
