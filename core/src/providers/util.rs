//! Shared building blocks for providers: HMAC, encodings, signature-header parsing.

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::provider::{ct_eq, Rejection, Secret};

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
