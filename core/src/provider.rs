//! The provider contract: how a webhook sender's signature scheme plugs into `receive`.
//!
//! A provider is pure: it sees the request, the endpoint's active secrets, its options and a clock
//! value, and returns a [`Verification`]. It never touches storage, so `receive` runs it before the
//! write lock is taken. Metadata (event id, type, delivery id, idempotency key) is extracted before
//! the signature check, so an orphan delivery still says what it claimed to be.

use std::fmt;

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

/// Provider options as given by the app (`provider_options` / `providerOptions`).
pub type ProviderOptions = Map<String, Value>;

/// An ordered list of name/value pairs: request headers or query parameters. Repeated names are
/// kept (Twilio signs repeated form keys; HTTP allows repeated headers).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn new() -> Self {
        Pairs(Vec::new())
    }
    /// First value whose name matches exactly.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// First value whose name matches ignoring ASCII case (header semantics).
    pub fn get_ignore_case(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every value whose name matches exactly, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Pairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Pairs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Pairs(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// One inbound HTTP request as the provider sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The full public URL the provider called, when the app passed one (Twilio signs it).
    pub url: Option<&'a str>,
    pub headers: &'a Pairs,
    pub query: &'a Pairs,
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Header lookup, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get_ignore_case(name)
    }
    /// The body parsed as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body).ok()
    }
}

/// A signing secret. Its `Debug` never prints the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.as_bytes().to_vec())
    }
}
impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s.into_bytes())
    }
}
impl From<Vec<u8>> for Secret {
    fn from(b: Vec<u8>) -> Self {
        Secret(b)
    }
}
impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Self {
        Secret(b.to_vec())
    }
}

/// What a provider gets besides the request.
#[derive(Debug, Clone, Copy)]
pub struct VerifyContext<'a> {
    /// Active secrets, in the order the app gave them. Any one of them may verify (rotation).
    pub secrets: &'a [Secret],
    pub options: &'a ProviderOptions,
    /// Unix seconds, injected so that verification is deterministic in tests.
    pub now_s: i64,
}

/// Metadata a provider extracts from a request, signed or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub delivery_id: Option<String>,
    /// The id that stays the same across the provider's own retries of one event. It is the
    /// default dedupe key.
    pub idempotency_key: Option<String>,
}

/// Why a request was not accepted. `code` is stable (documented, matched by apps and tests);
/// `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: String,
    pub message: String,
}

impl Rejection {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Rejection { code: code.into(), message: message.into() }
    }
    pub fn missing_signature(header: &str) -> Self {
        Rejection::new(codes::MISSING_SIGNATURE, format!("missing signature header {header}"))
    }
    pub fn mismatch() -> Self {
        Rejection::new(codes::SIGNATURE_MISMATCH, "signature does not match any active secret")
    }
    pub fn malformed(what: impl fmt::Display) -> Self {
        Rejection::new(codes::MALFORMED_SIGNATURE_HEADER, format!("malformed signature header: {what}"))
    }
}

/// Stable verification error codes, shared by every provider.
pub mod codes {
    pub const MISSING_SIGNATURE: &str = "missing_signature";
    pub const MALFORMED_SIGNATURE_HEADER: &str = "malformed_signature_header";
    pub const SIGNATURE_MISMATCH: &str = "signature_mismatch";
    pub const MISSING_TIMESTAMP: &str = "missing_timestamp";
    pub const MALFORMED_TIMESTAMP: &str = "malformed_timestamp";
    pub const TIMESTAMP_OUT_OF_TOLERANCE: &str = "timestamp_out_of_tolerance";
    pub const INVALID_SECRET: &str = "invalid_secret";
    pub const MISSING_URL: &str = "missing_url";
    pub const PROVIDER_ERROR: &str = "provider_error";
    pub const NO_SECRETS: &str = "verification_not_configured";
}

/// A response the app must send instead of the usual empty 2xx (Slack `url_verification`,
/// Discord PING, endpoint validation handshakes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    pub status_code: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The outcome of [`Provider::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub metadata: Metadata,
    /// `Ok(index)` of the secret that verified (`None` when the provider uses no secret
    /// index, e.g. a public key), or the rejection.
    pub result: Result<Option<usize>, Rejection>,
    /// A handshake to answer. A handshake creates no event.
    pub handshake: Option<HandshakeResponse>,
}

impl Verification {
    pub fn valid(metadata: Metadata, secret_index: Option<usize>) -> Self {
        Verification { metadata, result: Ok(secret_index), handshake: None }
    }
    pub fn invalid(metadata: Metadata, rejection: Rejection) -> Self {
        Verification { metadata, result: Err(rejection), handshake: None }
    }
    pub fn is_valid(&self) -> bool {
        self.result.is_ok()
    }
}

/// Kind of value an option takes, for validation and the catalogue table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    String,
    Integer,
    Bool,
    StringList,
}

/// One provider option: its key, kind, default and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    pub key: &'static str,
    pub kind: OptionKind,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// A catalogue row, rendered in the docs as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub algorithm: String,
    pub options: Vec<OptionSpec>,
    pub idempotency_key: String,
    pub doc: String,
    pub doc_url: String,
}

/// A signature scheme. Curated providers live in [`crate::providers`]; apps may register their own
/// under a name that is not curated.
pub trait Provider: Send + Sync {
    /// Lower-case name, unique in a handle.
    fn name(&self) -> &str;
    /// SemVer of this provider's verification behaviour.
    fn version(&self) -> &str;
    /// Whether `secrets` must be non-empty for this provider.
    fn requires_secrets(&self) -> bool {
        true
    }
    /// The option keys this provider accepts.
    fn options(&self) -> Vec<OptionSpec> {
        Vec::new()
    }
    /// Validates options when the endpoint is added. The default checks keys and kinds against
    /// [`Provider::options`].
    fn validate_options(&self, options: &ProviderOptions) -> Result<(), String> {
        validate_against_specs(self.name(), &self.options(), options)
    }
    /// Catalogue description.
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: self.name().to_string(),
            version: self.version().to_string(),
            algorithm: String::new(),
            options: self.options(),
            idempotency_key: String::new(),
            doc: String::new(),
            doc_url: String::new(),
        }
    }
    /// Verifies a request. Must not panic on any input (core catches panics anyway and turns them
    /// into a `provider_error` rejection).
    fn verify(&self, request: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification;
}

/// Default option validation: unknown keys and wrong kinds are errors.
pub fn validate_against_specs(
    provider: &str,
    specs: &[OptionSpec],
    options: &ProviderOptions,
) -> Result<(), String> {
    for (key, value) in options {
        let Some(spec) = specs.iter().find(|s| s.key == key) else {
            let known: Vec<&str> = specs.iter().map(|s| s.key).collect();
            return Err(format!(
                "unknown option {key:?} for provider {provider}; known options: [{}]",
                known.join(", ")
            ));
        };
        let ok = match spec.kind {
            OptionKind::String => value.is_string(),
            OptionKind::Integer => value.as_i64().is_some_and(|n| n >= 0),
            OptionKind::Bool => value.is_boolean(),
            OptionKind::StringList => {
                value.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }
        };
        if !ok {
            let want = match spec.kind {
                OptionKind::String => "a string",
                OptionKind::Integer => "a non-negative integer",
                OptionKind::Bool => "a boolean",
                OptionKind::StringList => "a list of strings",
            };
            return Err(format!("option {key:?} of provider {provider} must be {want}, got {value}"));
        }
    }
    Ok(())
}

/// Option helpers for providers.
pub fn opt_str<'a>(options: &'a ProviderOptions, key: &str) -> Option<&'a str> {
    options.get(key).and_then(Value::as_str)
}
pub fn opt_i64(options: &ProviderOptions, key: &str) -> Option<i64> {
    options.get(key).and_then(Value::as_i64)
}
pub fn opt_bool(options: &ProviderOptions, key: &str) -> Option<bool> {
    options.get(key).and_then(Value::as_bool)
}

/// Constant-time byte comparison. Length differences return false (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Renders a JSON scalar as an id: strings as-is, numbers and bools as JSON text, anything else
/// (null, objects, arrays) as none.
pub fn json_scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Timestamp tolerance with separate bounds for the past and the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    pub past_s: i64,
    pub future_s: i64,
}

impl Tolerance {
    pub const fn symmetric(s: i64) -> Self {
        Tolerance { past_s: s, future_s: s }
    }
    /// Reads `tolerance_s` (both bounds), then `tolerance_past_s` / `tolerance_future_s`.
    pub fn from_options(options: &ProviderOptions, default: Tolerance) -> Tolerance {
        let mut t = default;
        if let Some(s) = opt_i64(options, "tolerance_s") {
            t = Tolerance::symmetric(s);
        }
        if let Some(s) = opt_i64(options, "tolerance_past_s") {
            t.past_s = s;
        }
        if let Some(s) = opt_i64(options, "tolerance_future_s") {
            t.future_s = s;
        }
        t
    }
    /// Checks a signed timestamp (Unix seconds) against `now_s`.
    pub fn check(&self, timestamp_s: i64, now_s: i64) -> Result<(), Rejection> {
        let age = now_s.saturating_sub(timestamp_s);
        if age > self.past_s {
            return Err(Rejection::new(
                codes::TIMESTAMP_OUT_OF_TOLERANCE,
                format!("timestamp is {age}s old; tolerance is {}s", self.past_s),
            ));
        }
        let ahead = timestamp_s.saturating_sub(now_s);
        if ahead > self.future_s {
            return Err(Rejection::new(
                codes::TIMESTAMP_OUT_OF_TOLERANCE,
                format!("timestamp is {ahead}s in the future; tolerance is {}s", self.future_s),
            ));
        }
        Ok(())
    }
}

/// The tolerance option specs every timestamped provider accepts.
pub fn tolerance_option_specs(default_s: &'static str) -> Vec<OptionSpec> {
    vec![
        OptionSpec {
            key: "tolerance_s",
            kind: OptionKind::Integer,
            default: Some(default_s),
            doc: "Maximum age and maximum future skew of the signed timestamp, in seconds",
        },
        OptionSpec {
            key: "tolerance_past_s",
            kind: OptionKind::Integer,
            default: None,
            doc: "Maximum age of the signed timestamp (overrides tolerance_s for the past)",
        },
        OptionSpec {
            key: "tolerance_future_s",
            kind: OptionKind::Integer,
            default: None,
            doc: "Maximum future skew of the signed timestamp (overrides tolerance_s for the future)",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_check_never_overflows() {
        let t = Tolerance::symmetric(300);
        assert!(t.check(1, i64::MIN).is_err());
        assert!(t.check(i64::MIN, i64::MAX).is_err());
        assert!(t.check(i64::MAX, i64::MIN).is_err());
        assert!(t.check(1_700_000_000, 1_700_000_000).is_ok());
        let skewed = Tolerance { past_s: 10, future_s: 0 };
        assert!(skewed.check(1_700_000_001, 1_700_000_000).is_err());
        assert!(skewed.check(1_699_999_990, 1_700_000_000).is_ok());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::from("whsec_top_secret");
        assert_eq!(format!("{s:?}"), "Secret(<16 bytes redacted>)");
    }

    #[test]
    fn json_scalars_render_like_rust() {
        let v: Value = serde_json::json!({"s": "a", "n": 12, "f": 1.5, "b": true, "o": {}, "z": null});
        assert_eq!(json_scalar(v.get("s")).as_deref(), Some("a"));
        assert_eq!(json_scalar(v.get("n")).as_deref(), Some("12"));
        assert_eq!(json_scalar(v.get("f")).as_deref(), Some("1.5"));
        assert_eq!(json_scalar(v.get("b")).as_deref(), Some("true"));
        assert_eq!(json_scalar(v.get("o")), None);
        assert_eq!(json_scalar(v.get("z")), None);
        assert_eq!(json_scalar(v.get("missing")), None);
    }

    #[test]
    fn tolerance_has_separate_bounds() {
        let t = Tolerance { past_s: 300, future_s: 10 };
        assert!(t.check(1000, 1300).is_ok());
        assert_eq!(t.check(1000, 1301).unwrap_err().code, codes::TIMESTAMP_OUT_OF_TOLERANCE);
        assert!(t.check(1010, 1000).is_ok());
        assert!(t.check(1011, 1000).is_err());
    }

    #[test]
    fn unknown_options_are_rejected_with_the_known_list() {
        let specs = tolerance_option_specs("300");
        let mut o = ProviderOptions::new();
        o.insert("tolerence_s".into(), Value::from(5));
        let e = validate_against_specs("x", &specs, &o).unwrap_err();
        assert!(e.contains("tolerence_s") && e.contains("tolerance_s"), "{e}");
        let mut o = ProviderOptions::new();
        o.insert("tolerance_s".into(), Value::from(-5));
        assert!(validate_against_specs("x", &specs, &o).is_err());
    }
}
