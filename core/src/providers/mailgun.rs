//! `mailgun`: the signature lives in the body: hex HMAC-SHA256(signing key, timestamp + token).

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Mailgun {
    name: "mailgun",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of signature.timestamp + signature.token (from the JSON body, or the timestamp/token/signature form fields), hex",
    idempotency_key: "body event-data.id",
    doc: "Mailgun event webhooks. The secret is the account's HTTP webhook signing key as UTF-8. Mailgun signs only timestamp + token, not the payload, so the body itself is not integrity-protected (a tampered event-data still verifies). The timestamp (Unix seconds) is checked after the signature, default 300 s in the past and 300 s in the future; apps wanting full replay protection should also remember tokens. Legacy form-encoded webhooks (timestamp, token, signature fields) are accepted too.",
    doc_url: "https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks",
    options: tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let j = json.as_ref();
    let form = if j.is_none() { form_decode(&String::from_utf8_lossy(req.body)) } else { Vec::new() };
    let form_field = |k: &str| form.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone());
    let id = json_str(j, &["event-data", "id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(j, &["event-data", "event"]).or_else(|| form_field("event")),
        delivery_id: None,
        idempotency_key: id,
    };
    let field = |k: &str| json_str(j, &["signature", k]).or_else(|| form_field(k));
    let result = (|| {
        let signature = field("signature").ok_or_else(|| Rejection::missing_signature("signature.signature (body)"))?;
        let ts_text = field("timestamp")
            .ok_or_else(|| Rejection::new(codes::MISSING_TIMESTAMP, "body has no signature.timestamp"))?;
        let token = field("token").ok_or_else(|| Rejection::malformed("body has no signature.token"))?;
        let ts = parse_int_timestamp(&ts_text, "signature.timestamp")?;
        let presented = Encoding::Hex
            .decode(&signature)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Rejection::malformed("signature.signature is not hex"))?;
        let i = match_any_secret(ctx.secrets, &[presented], |key| {
            hmac(HmacAlgorithm::Sha256, key, &[ts_text.as_bytes(), token.as_bytes()])
        })?;
        Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts, ctx.now_s)?;
        Ok(i)
    })();
    finish(meta, result)
}
