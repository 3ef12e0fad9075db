//! `telegram`: Bot API webhooks, `X-Telegram-Bot-Api-Secret-Token`.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Telegram {
    name: "telegram",
    version: "1.0.0",
    algorithm: "secret_token from setWebhook in X-Telegram-Bot-Api-Secret-Token, constant-time equality",
    idempotency_key: "body update_id (Telegram redelivers an update with the same update_id)",
    doc: "Telegram Bot API webhooks registered with setWebhook(secret_token=...). The secret is that token (1-256 characters A-Z a-z 0-9 _ -). There is no body signature or timestamp. The event type is the update's kind (message, callback_query, ...), i.e. its key other than update_id.",
    doc_url: "https://core.telegram.org/bots/api#setwebhook",
    options: Vec::new(),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = json_str(json.as_ref(), &["update_id"]);
    let event_type = json
        .as_ref()
        .and_then(|v| v.as_object())
        .and_then(|o| o.keys().find(|k| k.as_str() != "update_id").cloned());
    let meta = Metadata { event_id: id.clone(), event_type, delivery_id: None, idempotency_key: id };
    let header = "X-Telegram-Bot-Api-Secret-Token";
    let result = require_header(req, header).and_then(|t| {
        match_token(ctx.secrets, t.as_bytes())
            .ok_or_else(|| Rejection::new(codes::SIGNATURE_MISMATCH, format!("{header} does not match any active secret")))
    });
    finish(meta, result)
}
