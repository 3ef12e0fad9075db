//! `sendgrid`: Event Webhook signed with ECDSA P-256 over timestamp + body.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Sendgrid {
    name: "sendgrid",
    version: "1.0.0",
    algorithm: "ECDSA P-256 with SHA-256 over X-Twilio-Email-Event-Webhook-Timestamp + raw body, base64 DER signature in X-Twilio-Email-Event-Webhook-Signature",
    idempotency_key: "none: the body is a batch of events, each with its own sg_event_id",
    doc: "Twilio SendGrid signed Event Webhook. The \"secrets\" are verification PUBLIC keys, either as the dashboard shows them (base64 of the DER SubjectPublicKeyInfo, no PEM framing) or as PEM; any of them may verify. Signatures are base64 ASN.1 DER. SendGrid documents no timestamp window; the default tolerance here is 300 s in the past and 300 s in the future (raise it with tolerance_s if needed), checked after the signature. The event id and type are the first batch element's sg_event_id and event.",
    doc_url: "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features",
    options: tolerance_option_specs("300"),
});

/// Parses a P-256 public key given as PEM or as base64 DER SubjectPublicKeyInfo.
pub fn parse_public_key(secret: &[u8]) -> Option<VerifyingKey> {
    let text = std::str::from_utf8(secret).ok()?.trim();
    if text.contains("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).ok();
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = Encoding::Base64.decode(&compact)?;
    VerifyingKey::from_public_key_der(&der).ok()
}

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let first = first_element(json.as_ref());
    let meta = Metadata {
        event_id: json_str(first, &["sg_event_id"]),
        event_type: json_str(first, &["event"]),
        ..Metadata::default()
    };
    finish(meta, check(req, ctx))
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let ts_header = "X-Twilio-Email-Event-Webhook-Timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?;
    let header = "X-Twilio-Email-Event-Webhook-Signature";
    let raw = require_header(req, header)?;
    let signature = Encoding::Base64
        .decode(raw)
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or_else(|| Rejection::malformed(format!("{header} is not a base64 DER ECDSA signature")))?;
    let keys: Vec<(usize, VerifyingKey)> =
        ctx.secrets.iter().enumerate().filter_map(|(i, s)| parse_public_key(s.expose()).map(|k| (i, k))).collect();
    if keys.is_empty() {
        return Err(Rejection::new(codes::INVALID_SECRET, "no configured key is a P-256 public key (base64 DER or PEM)"));
    }
    let mut message = Vec::with_capacity(ts_text.len() + req.body.len());
    message.extend_from_slice(ts_text.as_bytes());
    message.extend_from_slice(req.body);
    // Accept high-S signatures too (SendGrid's signer does not normalise S).
    let normalized = signature.normalize_s();
    let index = keys
        .iter()
        .find(|(_, k)| {
            k.verify(&message, &signature).is_ok() || normalized.is_some_and(|n| k.verify(&message, &n).is_ok())
        })
        .map(|(i, _)| *i)
        .ok_or_else(Rejection::mismatch)?;
    let ts = parse_int_timestamp(ts_text, ts_header)?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts, ctx.now_s)?;
    Ok(index)
}
