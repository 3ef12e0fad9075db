//! `resend`: Resend webhooks, delivered by Svix.

use crate::provider::*;
use crate::providers::standard_webhooks::verify_family;

curated_provider!(Resend {
    name: "resend",
    version: "1.0.0",
    algorithm: "Svix scheme: HMAC-SHA256 of svix-id + \".\" + svix-timestamp + \".\" + raw body, base64, v1,<sig> entries of svix-signature",
    idempotency_key: "svix-id header (NOT data.email_id, which email.sent/delivered/opened share)",
    doc: "Resend email webhooks (delivered through Svix). The secret is the webhook's whsec_ signing secret: prefix stripped, base64-decoded. Timestamp checked first, default 300 s in the past and 300 s in the future. The event type is the body's type (email.delivered, ...).",
    doc_url: "https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests",
    options: crate::provider::tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    verify_family(req, ctx, &["svix", "webhook"])
}
