//! `basic-auth`: `Authorization: Basic <base64(secret)>`, for middlemen that only offer HTTP
//! Basic credentials.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(BasicAuth {
    name: "basic-auth",
    version: "1.0.0",
    algorithm: "HTTP Basic credentials: the base64-decoded Authorization value equals a secret (constant-time)",
    idempotency_key: "the id_header option, when set",
    doc: "For senders that can only put credentials in the URL or an Authorization header. Each secret is the full credential text, normally user:password. No body integrity and no replay protection. The event id and type are read from the body's id and type when it is JSON.",
    doc_url: "https://datatracker.ietf.org/doc/html/rfc7617",
    options: vec![
        OptionSpec { key: "id_header", kind: OptionKind::String, default: None, doc: "Header with the sender's delivery id, used as the idempotency key" },
    ],
});

/// Checks `Authorization: Basic ...` against the secrets (each the decoded `user:pass` text).
pub fn check_basic(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let raw = require_header(req, "Authorization")?.trim();
    let (scheme, value) = raw.split_once(' ').unwrap_or((raw, ""));
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(Rejection::malformed("Authorization must use the Basic scheme"));
    }
    let decoded = Encoding::Base64
        .decode(value)
        .ok_or_else(|| Rejection::malformed("Authorization Basic credentials are not base64"))?;
    match_token(ctx.secrets, &decoded).ok_or_else(|| Rejection::new(codes::SIGNATURE_MISMATCH, "Basic credentials do not match any active secret"))
}

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let id = opt_str(ctx.options, "id_header").and_then(|h| header_string(req, h));
    let meta = Metadata {
        event_id: json_str(json.as_ref(), &["id"]),
        event_type: json_str(json.as_ref(), &["type"]),
        delivery_id: id.clone(),
        idempotency_key: id,
    };
    finish(meta, check_basic(req, ctx))
}
