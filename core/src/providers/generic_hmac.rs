//! `generic-hmac`: an HMAC signature in a header, for senders without a curated module.

use crate::provider::*;
use crate::providers::util::{hmac, match_any_secret, Encoding, HmacAlgorithm};

/// Configurable HMAC: header, prefix, hex/base64, sha1/sha256/sha512, and either the body or
/// `timestamp + separator + body` as the signed content.
pub struct GenericHmac;

const DEFAULT_TOLERANCE_S: i64 = 300;

impl GenericHmac {
    fn specs() -> Vec<OptionSpec> {
        let mut specs = vec![
            OptionSpec { key: "header", kind: OptionKind::String, default: Some("X-Signature"), doc: "Header carrying the signature" },
            OptionSpec { key: "prefix", kind: OptionKind::String, default: Some("sha256="), doc: "Text before the signature in the header (empty for none)" },
            OptionSpec { key: "encoding", kind: OptionKind::String, default: Some("hex"), doc: "hex or base64" },
            OptionSpec { key: "algorithm", kind: OptionKind::String, default: Some("sha256"), doc: "sha1, sha256 or sha512" },
            OptionSpec { key: "signed_content", kind: OptionKind::String, default: Some("body"), doc: "body, or timestamped (timestamp + separator + body)" },
            OptionSpec { key: "timestamp_header", kind: OptionKind::String, default: Some("X-Timestamp"), doc: "Header with the Unix-seconds timestamp (timestamped only)" },
            OptionSpec { key: "separator", kind: OptionKind::String, default: Some("."), doc: "Between timestamp and body (timestamped only)" },
            OptionSpec { key: "id_header", kind: OptionKind::String, default: None, doc: "Header with the sender's delivery id, used as the idempotency key" },
            OptionSpec { key: "event_type_header", kind: OptionKind::String, default: None, doc: "Header with the event type" },
        ];
        specs.extend(tolerance_option_specs("300"));
        specs
    }
}

impl Provider for GenericHmac {
    fn name(&self) -> &str {
        "generic-hmac"
    }
    fn version(&self) -> &str {
        "1.0.0"
    }
    fn options(&self) -> Vec<OptionSpec> {
        Self::specs()
    }
    fn validate_options(&self, options: &ProviderOptions) -> Result<(), String> {
        validate_against_specs(self.name(), &self.options(), options)?;
        if let Some(e) = opt_str(options, "encoding") {
            Encoding::parse(e).ok_or_else(|| format!("encoding must be hex or base64, got {e:?}"))?;
        }
        if let Some(a) = opt_str(options, "algorithm") {
            HmacAlgorithm::parse(a).ok_or_else(|| format!("algorithm must be sha1, sha256 or sha512, got {a:?}"))?;
        }
        if let Some(c) = opt_str(options, "signed_content") {
            if c != "body" && c != "timestamped" {
                return Err(format!("signed_content must be body or timestamped, got {c:?}"));
            }
        }
        Ok(())
    }
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: self.name().into(),
            version: self.version().into(),
            algorithm: "HMAC (SHA-1/256/512) of the body or of timestamp+separator+body, hex or base64".into(),
            options: self.options(),
            idempotency_key: "the id_header option, when set".into(),
            doc: "For senders without a curated module: set the header, prefix, encoding, algorithm and signed content to match the sender's documentation.".into(),
            doc_url: "https://en.wikipedia.org/wiki/HMAC".into(),
        }
    }
    fn verify(&self, req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
        let o = ctx.options;
        let mut meta = Metadata::default();
        if let Some(h) = opt_str(o, "id_header") {
            meta.delivery_id = req.header(h).map(str::to_string);
            meta.idempotency_key = meta.delivery_id.clone();
        }
        if let Some(h) = opt_str(o, "event_type_header") {
            meta.event_type = req.header(h).map(str::to_string);
        }
        let header = opt_str(o, "header").unwrap_or("X-Signature");
        let prefix = opt_str(o, "prefix").unwrap_or("sha256=");
        let encoding = opt_str(o, "encoding").and_then(Encoding::parse).unwrap_or(Encoding::Hex);
        let alg = opt_str(o, "algorithm").and_then(HmacAlgorithm::parse).unwrap_or(HmacAlgorithm::Sha256);
        let Some(raw) = req.header(header) else {
            return Verification::invalid(meta, Rejection::missing_signature(header));
        };
        let Some(sig) = raw.trim().strip_prefix(prefix) else {
            return Verification::invalid(meta, Rejection::malformed(format!("{header} does not start with {prefix:?}")));
        };
        let Some(presented) = encoding.decode(sig) else {
            return Verification::invalid(meta, Rejection::malformed(format!("{header} is not valid {encoding:?}")));
        };
        let timestamped = opt_str(o, "signed_content") == Some("timestamped");
        let mut ts_text = "";
        if timestamped {
            let ts_header = opt_str(o, "timestamp_header").unwrap_or("X-Timestamp");
            let Some(ts) = req.header(ts_header) else {
                return Verification::invalid(meta, Rejection::new(codes::MISSING_TIMESTAMP, format!("missing timestamp header {ts_header}")));
            };
            let Ok(ts_value) = ts.trim().parse::<i64>() else {
                return Verification::invalid(meta, Rejection::new(codes::MALFORMED_TIMESTAMP, format!("{ts_header} is not Unix seconds")));
            };
            let tolerance = Tolerance::from_options(o, Tolerance::symmetric(DEFAULT_TOLERANCE_S));
            if let Err(r) = tolerance.check(ts_value, ctx.now_s) {
                return Verification::invalid(meta, r);
            }
            ts_text = ts.trim();
        }
        let separator = opt_str(o, "separator").unwrap_or(".");
        let result = match_any_secret(ctx.secrets, &[presented], |key| {
            if timestamped {
                hmac(alg, key, &[ts_text.as_bytes(), separator.as_bytes(), req.body])
            } else {
                hmac(alg, key, &[req.body])
            }
        });
        match result {
            Ok(i) => Verification::valid(meta, Some(i)),
            Err(r) => Verification::invalid(meta, r),
        }
    }
}
