//! `postmark`: Postmark webhooks authenticate with HTTP Basic credentials in the webhook URL.

use crate::provider::*;
use crate::providers::basic_auth::check_basic;
use crate::providers::util::*;

curated_provider!(Postmark {
    name: "postmark",
    version: "1.0.0",
    algorithm: "HTTP Basic credentials (Postmark has no signature scheme): decoded Authorization equals a user:password secret",
    idempotency_key: "none: MessageID is shared by the Delivery, Open, Click and Bounce events of one message",
    doc: "Postmark webhooks. Postmark does not sign payloads; put user:password credentials in the webhook URL (https://user:pass@host/path) and configure the same user:password text as the secret. Optionally restrict by Postmark's IP ranges in front of the app. No replay protection. The event type is RecordType and the event id MessageID.",
    doc_url: "https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let meta = Metadata {
        event_id: json_str(json.as_ref(), &["MessageID"]),
        event_type: json_str(json.as_ref(), &["RecordType"]),
        ..Metadata::default()
    };
    finish(meta, check_basic(req, ctx))
}
