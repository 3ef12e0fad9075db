//! `standard-webhooks`: the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64> ...`). Svix, Clerk and Resend reuse [`verify_family`].

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(StandardWebhooks {
    name: "standard-webhooks",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of webhook-id + \".\" + webhook-timestamp + \".\" + raw body, base64, any v1,<sig> entry of the space-separated webhook-signature",
    idempotency_key: "webhook-id header (the message id, identical on every retry)",
    doc: "Senders following the Standard Webhooks specification (OpenAI, Polar, Replicate, GitLab signing tokens, ...). The secret is whsec_ + base64 of the key: the prefix is stripped and the rest base64-decoded (as the official library does, also without the prefix); a secret that is not base64 gives invalid_secret. The timestamp is checked before the signature: default 300 s in the past and 300 s in the future. v1a (Ed25519) entries are ignored. Headers named svix-* are accepted when webhook-* are absent.",
    doc_url: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
    options: tolerance_option_specs("300"),
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    verify_family(req, ctx, &["webhook", "svix"])
}

/// Verifies a Standard Webhooks / Svix request. `prefixes` are header-name families in order
/// of preference; the first family whose id or signature header is present is used.
pub fn verify_family(req: &Request<'_>, ctx: &VerifyContext<'_>, prefixes: &[&str]) -> Verification {
    let family = prefixes
        .iter()
        .copied()
        .find(|p| req.header(&format!("{p}-id")).is_some() || req.header(&format!("{p}-signature")).is_some())
        .unwrap_or(prefixes[0]);
    let id_header = format!("{family}-id");
    let json = req.json();
    let id = header_string(req, &id_header);
    let meta = Metadata {
        event_id: json_str(json.as_ref(), &["id"]),
        event_type: json_str(json.as_ref(), &["type"]),
        delivery_id: id.clone(),
        idempotency_key: id,
    };
    finish(meta, check(req, ctx, family))
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>, family: &str) -> Result<usize, Rejection> {
    let id_header = format!("{family}-id");
    let ts_header = format!("{family}-timestamp");
    let sig_header = format!("{family}-signature");
    let id = require_header(req, &id_header)?;
    let ts_text = require_timestamp_header(req, &ts_header)?.trim();
    let ts = parse_int_timestamp(ts_text, &ts_header)?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts, ctx.now_s)?;
    let raw = require_header(req, &sig_header)?;
    let candidates: Vec<Vec<u8>> = raw
        .split(' ')
        .filter_map(|entry| entry.trim().split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| Encoding::Base64.decode(sig))
        .filter(|s| !s.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(Rejection::malformed(format!("{sig_header} has no v1,<base64> entry")));
    }
    let keys: Vec<Option<Vec<u8>>> = ctx.secrets.iter().map(|s| decode_whsec(s.expose())).collect();
    if keys.iter().all(Option::is_none) {
        return Err(Rejection::new(codes::INVALID_SECRET, "no configured secret is whsec_ + base64"));
    }
    for (index, key) in keys.iter().enumerate() {
        let Some(key) = key else { continue };
        let expected = hmac(HmacAlgorithm::Sha256, key, &[id.trim().as_bytes(), b".", ts_text.as_bytes(), b".", req.body]);
        if candidates.iter().any(|c| ct_eq(&expected, c)) {
            return Ok(index);
        }
    }
    Err(Rejection::mismatch())
}
