//! `twilio`: `X-Twilio-Signature`, HMAC-SHA1 (or SHA-256) of the full URL plus sorted form
//! parameters, base64.

use std::collections::{BTreeMap, BTreeSet};

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Twilio {
    name: "twilio",
    version: "1.0.0",
    algorithm: "HMAC-SHA1 (HMAC-SHA256 when X-Twilio-Webhooks-Signature-Settings says so) of the full URL + every form parameter as key+value sorted by key, base64, header X-Twilio-Signature",
    idempotency_key: "I-Twilio-Idempotency-Token header, else the resource sid + \":\" + status (CallSid/MessageSid/SmsSid and CallStatus/MessageStatus/SmsStatus), since all status callbacks of one call share its sid",
    doc: "Twilio Voice, Messaging and other TwiML webhooks. The secret is the account Auth Token (or the API key secret of a signing rule) as UTF-8. The URL is the exact public URL Twilio called, query string included: pass it as the request URL or set the url option (otherwise missing_url). As in Twilio's SDK the URL is tried as given, with the scheme's default port added and with the port removed. Form POSTs append every parameter sorted by key; repeated keys contribute each distinct value, sorted. JSON bodies carry bodySHA256=<hex sha256(body)> in the URL instead: the URL is signed without parameters and the body hash is checked. GET callbacks sign the URL only. There is no timestamp.",
    doc_url: "https://www.twilio.com/docs/usage/webhooks/webhooks-security",
    options: vec![
        OptionSpec { key: "url", kind: OptionKind::String, default: None, doc: "The public URL Twilio calls (overrides the request URL, e.g. behind a proxy)" },
        OptionSpec { key: "algorithm", kind: OptionKind::String, default: None, doc: "sha1 or sha256; by default taken from X-Twilio-Webhooks-Signature-Settings, else sha1" },
    ],
});

fn form_params(req: &Request<'_>) -> Option<Vec<(String, String)>> {
    let ct = req.header("Content-Type").unwrap_or("").to_ascii_lowercase();
    if req.method.eq_ignore_ascii_case("GET") || req.body.is_empty() {
        return None;
    }
    if ct.contains("application/x-www-form-urlencoded") || (ct.is_empty() && req.json().is_none()) {
        return Some(form_decode(&String::from_utf8_lossy(req.body)));
    }
    None
}

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let form = form_params(req);
    let json = req.json();
    let field = |name: &str| -> Option<String> {
        match &form {
            Some(pairs) => pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            None => json_str(json.as_ref(), &[name]),
        }
    };
    let sid = field("CallSid").or_else(|| field("MessageSid")).or_else(|| field("SmsSid"));
    let status = field("CallStatus").or_else(|| field("MessageStatus")).or_else(|| field("SmsStatus"));
    let event_type = field("EventType").or_else(|| status.clone());
    let idempotency_key = header_string(req, "I-Twilio-Idempotency-Token").or_else(|| match (&sid, &status) {
        (Some(s), Some(st)) => Some(format!("{s}:{st}")),
        _ => None,
    });
    let meta = Metadata { event_id: sid, event_type, delivery_id: header_string(req, "I-Twilio-Idempotency-Token"), idempotency_key };
    finish(meta, check(req, ctx, form.as_deref()))
}

/// The URL as given, with the scheme's default port added, and with any port removed.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    if let Some((scheme, rest)) = url.split_once("://") {
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (format!("{u}@"), h),
            None => (String::new(), authority),
        };
        let (host, port) = match hostport.rfind(':') {
            Some(i) if hostport[i + 1..].bytes().all(|b| b.is_ascii_digit()) && !hostport[i..].contains(']') => {
                (&hostport[..i], Some(&hostport[i + 1..]))
            }
            _ => (hostport, None),
        };
        let default = match scheme.to_ascii_lowercase().as_str() {
            "https" => "443",
            "http" => "80",
            _ => "",
        };
        if !default.is_empty() && !host.is_empty() {
            let port = port.filter(|p| !p.is_empty()).unwrap_or(default);
            out.push(format!("{scheme}://{userinfo}{host}:{port}{tail}"));
            out.push(format!("{scheme}://{userinfo}{host}{tail}"));
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|u| seen.insert(u.clone()));
    out
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>, form: Option<&[(String, String)]>) -> Result<usize, Rejection> {
    let url = opt_str(ctx.options, "url")
        .or(req.url)
        .ok_or_else(|| Rejection::new(codes::MISSING_URL, "twilio signs the request URL: pass the request URL or set the url option"))?;
    let header = "X-Twilio-Signature";
    let raw = require_header(req, header)?;
    let presented = Encoding::Base64
        .decode(raw)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} is not base64")))?;
    let alg = match opt_str(ctx.options, "algorithm").and_then(HmacAlgorithm::parse) {
        Some(a) => a,
        None => match req.header("X-Twilio-Webhooks-Signature-Settings") {
            Some(s) if s.to_ascii_uppercase().contains("HMAC_SHA256") => HmacAlgorithm::Sha256,
            _ => HmacAlgorithm::Sha1,
        },
    };
    let query = url.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or("")).unwrap_or("");
    let body_sha = form_decode(query).into_iter().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v);
    let mut params = String::new();
    if body_sha.is_none() {
        if let Some(pairs) = form {
            let mut grouped: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for (k, v) in pairs {
                grouped.entry(k.as_str()).or_default().insert(v.as_str());
            }
            for (k, values) in grouped {
                for v in values {
                    params.push_str(k);
                    params.push_str(v);
                }
            }
        }
    }
    let presented = std::slice::from_ref(&presented);
    let signed_with = |u: &str| match_any_secret(ctx.secrets, presented, |key| hmac(alg, key, &[u.as_bytes(), params.as_bytes()])).ok();
    // The URL as given first; the port variants only when it does not verify.
    let index = signed_with(url)
        .or_else(|| url_variants(url).iter().skip(1).find_map(|u| signed_with(u)))
        .ok_or_else(Rejection::mismatch)?;
    if let Some(expected) = body_sha {
        let actual = hex::encode(sha256(req.body));
        if !ct_eq(actual.as_bytes(), expected.trim().to_ascii_lowercase().as_bytes()) {
            return Err(Rejection::new(codes::SIGNATURE_MISMATCH, "bodySHA256 in the signed URL does not match the body"));
        }
    }
    Ok(index)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}
