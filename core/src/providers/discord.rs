//! `discord`: interactions and webhook events, Ed25519 over timestamp + body; PING → PONG.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Discord {
    name: "discord",
    version: "1.0.0",
    algorithm: "Ed25519 over X-Signature-Timestamp + raw body, hex signature in X-Signature-Ed25519, application public key",
    idempotency_key: "body id (the interaction or event id)",
    doc: "Discord interactions endpoint and webhook events. The \"secrets\" are the application's PUBLIC keys (64 hex characters each), not secrets; any of them may verify. Discord documents no timestamp window and deliberately sends invalid signatures expecting 401, so the timestamp is signed but not checked unless tolerance_s / tolerance_past_s / tolerance_future_s is set. A signed PING (type 1) is answered 200 application/json {\"type\":1}. The event type is the body's event.type for webhook events, else its type number.",
    doc_url: "https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers",
    options: vec![
        OptionSpec { key: "tolerance_s", kind: OptionKind::Integer, default: None, doc: "When set, maximum age and future skew of X-Signature-Timestamp in seconds (off by default)" },
        OptionSpec { key: "tolerance_past_s", kind: OptionKind::Integer, default: None, doc: "When set, maximum age of the timestamp (off by default)" },
        OptionSpec { key: "tolerance_future_s", kind: OptionKind::Integer, default: None, doc: "When set, maximum future skew of the timestamp (off by default)" },
    ],
});

/// Parses a hex Ed25519 public key.
pub fn parse_public_key(secret: &[u8]) -> Option<VerifyingKey> {
    let text = std::str::from_utf8(secret).ok()?.trim();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some((_, key)) = keys.iter().find(|(b, _)| *b == bytes) {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        if keys.len() == KEY_CACHE_SIZE {
            keys.remove(0);
        }
        keys.push((bytes, key));
        Some(key)
    })
}

/// Public keys each thread keeps decompressed.
const KEY_CACHE_SIZE: usize = 8;

thread_local! {
    /// Decompressing a public key (a field square root) costs about a quarter of a signature
    /// check, and an app has one or two long-lived keys, so each thread keeps the last few.
    /// Only public keys are kept; nothing secret.
    static KEYS: std::cell::RefCell<Vec<([u8; 32], VerifyingKey)>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let j = json.as_ref();
    let id = json_str(j, &["id"]);
    let meta = Metadata {
        event_id: id.clone(),
        event_type: json_str(j, &["event", "type"]).or_else(|| json_str(j, &["type"])),
        delivery_id: None,
        idempotency_key: id,
    };
    match check(req, ctx) {
        Ok(i) => {
            let mut v = Verification::valid(meta, Some(i));
            if is_interaction_ping(j) {
                v.handshake = Some(HandshakeResponse {
                    status_code: 200,
                    content_type: "application/json".into(),
                    body: br#"{"type":1}"#.to_vec(),
                });
            }
            v
        }
        Err(r) => Verification::invalid(meta, r),
    }
}

/// An interaction PING: `type` 1 with no `event` (webhook events use `type` 0 for their PING,
/// which is answered with an empty 204 and needs no handshake).
fn is_interaction_ping(j: Option<&serde_json::Value>) -> bool {
    json_path(j, &["type"]).and_then(|t| t.as_i64()) == Some(1) && json_path(j, &["event"]).is_none()
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let ts_header = "X-Signature-Timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?;
    let header = "X-Signature-Ed25519";
    let raw = require_header(req, header)?;
    let sig_bytes: [u8; 64] = hex::decode(raw.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Rejection::malformed(format!("{header} must be 128 hex characters")))?;
    let signature = Signature::from_bytes(&sig_bytes);
    let keys: Vec<(usize, VerifyingKey)> =
        ctx.secrets.iter().enumerate().filter_map(|(i, s)| parse_public_key(s.expose()).map(|k| (i, k))).collect();
    if keys.is_empty() {
        return Err(Rejection::new(codes::INVALID_SECRET, "no configured key is a 64-hex-character Ed25519 public key"));
    }
    let mut message = Vec::with_capacity(ts_text.len() + req.body.len());
    message.extend_from_slice(ts_text.as_bytes());
    message.extend_from_slice(req.body);
    let index = keys
        .iter()
        .find(|(_, k)| k.verify(&message, &signature).is_ok())
        .map(|(i, _)| *i)
        .ok_or_else(Rejection::mismatch)?;
    let o = ctx.options;
    if o.contains_key("tolerance_s") || o.contains_key("tolerance_past_s") || o.contains_key("tolerance_future_s") {
        let ts = parse_int_timestamp(ts_text, ts_header)?;
        Tolerance::from_options(o, Tolerance::symmetric(i64::MAX / 4)).check(ts, ctx.now_s)?;
    }
    Ok(index)
}
