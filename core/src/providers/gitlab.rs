//! `gitlab`: `X-Gitlab-Token`, a shared secret token compared in constant time.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Gitlab {
    name: "gitlab",
    version: "1.0.0",
    algorithm: "secret token in X-Gitlab-Token, constant-time equality (GitLab does not sign the body)",
    idempotency_key: "Idempotency-Key header (GitLab 17.4+, constant across retries), else X-Gitlab-Event-UUID",
    doc: "GitLab project, group and system hooks with a secret token. The secret is the token as configured. There is no body integrity or timestamp. The event type is X-Gitlab-Event (Push Hook, Merge Request Hook, ...). GitLab's newer optional signing token uses the Standard Webhooks format: use the standard-webhooks provider for such endpoints.",
    doc_url: "https://docs.gitlab.com/user/project/integrations/webhooks/#create-a-secret-token",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let uuid = header_string(req, "X-Gitlab-Event-UUID");
    let key = header_string(req, "Idempotency-Key").or_else(|| uuid.clone());
    let meta = Metadata {
        event_id: uuid,
        event_type: header_string(req, "X-Gitlab-Event"),
        delivery_id: header_string(req, "X-Gitlab-Webhook-UUID"),
        idempotency_key: key,
    };
    let result = require_header(req, "X-Gitlab-Token").and_then(|t| {
        match_token(ctx.secrets, t.as_bytes())
            .ok_or_else(|| Rejection::new(codes::SIGNATURE_MISMATCH, "X-Gitlab-Token does not match any active secret"))
    });
    finish(meta, result)
}
