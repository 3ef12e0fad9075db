//! Shared building blocks for providers: HMAC, encodings, signature-header parsing.

use base64::Engine as _;
use hmac::{Hmac, Mac};

use serde_json::Value;

use crate::provider::{codes, ct_eq, json_scalar, Metadata, Rejection, Request, Secret, Tolerance, Verification, VerifyContext};

/// HMAC algorithms providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl HmacAlgorithm {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// HMAC over the concatenation of `parts`.
pub fn hmac(alg: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($d:ty) => {{
            let mut mac = <Hmac<$d>>::new_from_slice(key).expect("HMAC takes keys of any length");
            for p in parts {
                mac.update(p);
            }
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        HmacAlgorithm::Sha1 => run!(sha1::Sha1),
        HmacAlgorithm::Sha256 => run!(sha2::Sha256),
        HmacAlgorithm::Sha512 => run!(sha2::Sha512),
    }
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "hex" => Some(Self::Hex),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }
    /// Decodes a presented signature; `None` when it is not valid in this encoding.
    pub fn decode(self, s: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(s.trim()).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(s.trim()).ok(),
        }
    }
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// Tries every secret against every candidate signature in constant time per comparison and
/// returns the index of the first secret that verifies.
pub fn match_any_secret(
    secrets: &[Secret],
    candidates: &[Vec<u8>],
    compute: impl Fn(&[u8]) -> Vec<u8>,
) -> Result<usize, Rejection> {
    for (index, secret) in secrets.iter().enumerate() {
        let expected = compute(secret.expose());
        if candidates.iter().any(|c| ct_eq(&expected, c)) {
            return Ok(index);
        }
    }
    Err(Rejection::mismatch())
}


// ---------------------------------------------------------------------------------------------
// Shared building blocks for the curated providers. They never panic on any input.
// ---------------------------------------------------------------------------------------------

/// A header the signature scheme requires; its absence is `missing_signature`.
pub fn require_header<'a>(req: &Request<'a>, name: &str) -> Result<&'a str, Rejection> {
    req.header(name).ok_or_else(|| Rejection::missing_signature(name))
}

/// A timestamp header; its absence is `missing_timestamp`.
pub fn require_timestamp_header<'a>(req: &Request<'a>, name: &str) -> Result<&'a str, Rejection> {
    req.header(name)
        .ok_or_else(|| Rejection::new(codes::MISSING_TIMESTAMP, format!("missing timestamp header {name}")))
}

/// Parses a decimal integer timestamp (ASCII digits only, optional leading `-` rejected).
pub fn parse_int_timestamp(text: &str, what: &str) -> Result<i64, Rejection> {
    let t = text.trim();
    if t.is_empty() || t.len() > 18 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::new(codes::MALFORMED_TIMESTAMP, format!("{what} is not an integer timestamp")));
    }
    t.parse::<i64>()
        .map_err(|_| Rejection::new(codes::MALFORMED_TIMESTAMP, format!("{what} is not an integer timestamp")))
}

/// Splits `k=v<sep>k=v...` into trimmed pairs; items without `=` are kept with an empty key so
/// callers can treat them as malformed if they care. Values keep any further `=`.
pub fn kv_list(text: &str, sep: char) -> Vec<(&str, &str)> {
    text.split(sep)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => ("", item),
        })
        .collect()
}

/// Walks a JSON value by object keys.
pub fn json_path<'a>(value: Option<&'a Value>, keys: &[&str]) -> Option<&'a Value> {
    let mut v = value?;
    for k in keys {
        v = v.as_object()?.get(*k)?;
    }
    Some(v)
}

/// [`json_path`] rendered with [`json_scalar`].
pub fn json_str(value: Option<&Value>, keys: &[&str]) -> Option<String> {
    json_scalar(json_path(value, keys))
}

/// The first element of a JSON array body (batch senders such as SendGrid and HubSpot).
pub fn first_element(value: Option<&Value>) -> Option<&Value> {
    value?.as_array()?.first()
}

/// A header value as an owned string.
pub fn header_string(req: &Request<'_>, name: &str) -> Option<String> {
    req.header(name).map(|v| v.trim().to_string())
}

/// Decodes a Standard Webhooks / Svix secret: strip an optional `whsec_` prefix, then base64
/// (standard alphabet, padding optional). `None` when it is not base64.
pub fn decode_whsec(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).ok()?.trim();
    let text = text.strip_prefix("whsec_").unwrap_or(text);
    if text.is_empty() {
        return None;
    }
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    lenient.decode(text).ok()
}

/// Parses an RFC 3339 / ISO-8601 date-time with a `Z` or `±HH:MM` offset (fractional seconds
/// allowed and truncated) into Unix seconds.
pub fn rfc3339_to_unix(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() < 20 {
        return None;
    }
    fn num(b: &[u8]) -> Option<i64> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(b).ok()?.parse().ok()
    }
    let year = num(&b[0..4])?;
    let month = num(&b[5..7])?;
    let day = num(&b[8..10])?;
    let hour = num(&b[11..13])?;
    let minute = num(&b[14..16])?;
    let second = num(&b[17..19])?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let rest = &b[i..];
    let offset = match rest {
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = num(&[*h1, *h2])?;
            let m = num(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let s = h * 3600 + m * 60;
            if *sign == b'-' { -s } else { s }
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), era-based.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Turns a secret-matching result into a [`Verification`].
pub fn finish(meta: Metadata, result: Result<usize, Rejection>) -> Verification {
    match result {
        Ok(i) => Verification::valid(meta, Some(i)),
        Err(r) => Verification::invalid(meta, r),
    }
}

/// Strips the first matching prefix (`sha256=`, `v0=`...); `None` when none matches.
pub fn strip_any_prefix<'a>(value: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    let v = value.trim();
    if prefixes.is_empty() {
        return Some(v);
    }
    prefixes.iter().find_map(|p| v.strip_prefix(p))
}

/// The common "HMAC of the raw body in one header" scheme.
pub fn verify_body_hmac(
    req: &Request<'_>,
    ctx: &VerifyContext<'_>,
    header: &str,
    prefixes: &[&str],
    alg: HmacAlgorithm,
    encoding: Encoding,
) -> Result<usize, Rejection> {
    let raw = require_header(req, header)?;
    let sig = strip_any_prefix(raw, prefixes)
        .ok_or_else(|| Rejection::malformed(format!("{header} must start with {}", prefixes.join(" or "))))?;
    let presented = encoding
        .decode(sig)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} is not {encoding:?}")))?;
    match_any_secret(ctx.secrets, &[presented], |key| hmac(alg, key, &[req.body]))
}

/// Compares a presented token against every secret in constant time (hashing both sides first,
/// so that the comparison does not leak the secret's length).
pub fn match_token(secrets: &[Secret], presented: &[u8]) -> Option<usize> {
    let p = hmac(HmacAlgorithm::Sha256, b"knocker-token-compare", &[presented]);
    secrets.iter().position(|s| {
        let e = hmac(HmacAlgorithm::Sha256, b"knocker-token-compare", &[s.expose()]);
        ct_eq(&e, &p)
    })
}

/// Percent-decodes `application/x-www-form-urlencoded` text into ordered pairs (`+` is a space).
pub fn form_decode(text: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push(h * 16 + l);
                            i += 3;
                            continue;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    fn hex_val(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(p), String::new()),
        })
        .collect()
}

/// A signature header that carries a timestamp and one or more signatures as `key=value`
/// elements (Stripe `t=..,v1=..`, Paddle `ts=..;h1=..`, Calendly, Mux, WorkOS).
pub struct ListScheme {
    pub header: &'static str,
    pub separator: char,
    pub timestamp_key: &'static str,
    pub signature_key: &'static str,
    /// Between the timestamp text and the body in the signed content.
    pub joiner: &'static str,
    /// The timestamp is in milliseconds (WorkOS).
    pub millis: bool,
}

impl ListScheme {
    /// Checks the signature against every secret first, then the timestamp (Stripe's order).
    pub fn verify(&self, req: &Request<'_>, ctx: &VerifyContext<'_>, tolerance: Tolerance) -> Result<usize, Rejection> {
        let header = self.header;
        let raw = require_header(req, header)?;
        let pairs = kv_list(raw, self.separator);
        let ts_text = pairs
            .iter()
            .find(|(k, _)| *k == self.timestamp_key)
            .map(|(_, v)| *v)
            .ok_or_else(|| Rejection::malformed(format!("{header} has no {}= element", self.timestamp_key)))?;
        let ts = parse_int_timestamp(ts_text, &format!("{header} {}=", self.timestamp_key))?;
        let candidates: Vec<Vec<u8>> = pairs
            .iter()
            .filter(|(k, _)| *k == self.signature_key)
            .filter_map(|(_, v)| Encoding::Hex.decode(v))
            .filter(|v| !v.is_empty())
            .collect();
        if candidates.is_empty() {
            return Err(Rejection::malformed(format!("{header} has no hex {}= signature", self.signature_key)));
        }
        let index = match_any_secret(ctx.secrets, &candidates, |key| {
            hmac(HmacAlgorithm::Sha256, key, &[ts_text.as_bytes(), self.joiner.as_bytes(), req.body])
        })?;
        let ts_s = if self.millis { ts.div_euclid(1000) } else { ts };
        tolerance.check(ts_s, ctx.now_s)?;
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        let mac = hmac(HmacAlgorithm::Sha256, b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
