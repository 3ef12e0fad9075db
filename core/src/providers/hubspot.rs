//! `hubspot`: v3 request signatures, `X-HubSpot-Signature-v3`.

use crate::provider::*;
use crate::providers::util::*;

curated_provider!(Hubspot {
    name: "hubspot",
    version: "1.0.0",
    algorithm: "HMAC-SHA256 of METHOD + full request URI + raw body + X-HubSpot-Request-Timestamp (ms), base64, header X-HubSpot-Signature-v3",
    idempotency_key: "none: the body is a batch of events; each element carries its own eventId",
    doc: "HubSpot app webhooks and workflow actions, signature v3 (v1/v2 are not accepted). The secret is the app's client secret as UTF-8. The signed URI is the public URL HubSpot called, including the query string: pass it as the request URL or set the url option (behind a proxy). The URI is tried as given and with the percent-encodings HubSpot lists (%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B) decoded. The timestamp is in milliseconds and checked before the signature: default 300 s in the past (HubSpot's rule) and 300 s in the future. The event id and type are those of the first batch element.",
    doc_url: "https://developers.hubspot.com/docs/guides/apps/authentication/validating-requests",
    options: {
        let mut o = vec![OptionSpec {
            key: "url",
            kind: OptionKind::String,
            default: None,
            doc: "The public URL HubSpot calls (overrides the request URL, e.g. behind a proxy)",
        }];
        o.extend(tolerance_option_specs("300"));
        o
    },
});

fn verify(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
    let json = req.json();
    let first = first_element(json.as_ref());
    let meta = Metadata {
        event_id: json_str(first, &["eventId"]),
        event_type: json_str(first, &["subscriptionType"]),
        ..Metadata::default()
    };
    finish(meta, check(req, ctx))
}

/// Decodes the percent-encodings HubSpot's documentation lists before signing.
fn decode_listed(uri: &str) -> String {
    const TABLE: [(&str, &str); 12] = [
        ("%3A", ":"), ("%2F", "/"), ("%3F", "?"), ("%40", "@"), ("%21", "!"), ("%24", "$"),
        ("%27", "'"), ("%28", "("), ("%29", ")"), ("%2A", "*"), ("%2C", ","), ("%3B", ";"),
    ];
    let mut out = uri.to_string();
    for (enc, dec) in TABLE {
        out = out.replace(enc, dec).replace(&enc.to_ascii_lowercase(), dec);
    }
    out
}

fn check(req: &Request<'_>, ctx: &VerifyContext<'_>) -> Result<usize, Rejection> {
    let url = opt_str(ctx.options, "url")
        .or(req.url)
        .ok_or_else(|| Rejection::new(codes::MISSING_URL, "hubspot signs the request URL: pass the request URL or set the url option"))?;
    let ts_header = "X-HubSpot-Request-Timestamp";
    let ts_text = require_timestamp_header(req, ts_header)?.trim();
    let ts_ms = parse_int_timestamp(ts_text, ts_header)?;
    Tolerance::from_options(ctx.options, Tolerance::symmetric(300)).check(ts_ms.div_euclid(1000), ctx.now_s)?;
    let header = "X-HubSpot-Signature-v3";
    let raw = require_header(req, header)?;
    let presented = Encoding::Base64
        .decode(raw)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejection::malformed(format!("{header} is not base64")))?;
    let method = req.method.to_ascii_uppercase();
    let decoded = decode_listed(url);
    let mut uris = vec![url.to_string()];
    if decoded != url {
        uris.push(decoded);
    }
    let mut last = Rejection::mismatch();
    for uri in &uris {
        match match_any_secret(ctx.secrets, &[presented.clone()], |key| {
            hmac(HmacAlgorithm::Sha256, key, &[method.as_bytes(), uri.as_bytes(), req.body, ts_text.as_bytes()])
        }) {
            Ok(i) => return Ok(i),
            Err(r) => last = r,
        }
    }
    Err(last)
}
