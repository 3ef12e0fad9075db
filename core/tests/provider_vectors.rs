//! Runs every language-neutral provider vector in `tests/vectors/providers/<name>/*.json`
//! through `knocker_core::providers::find(name)` and checks validity, error code, secret index,
//! metadata, idempotency key and handshake. The same files drive the Python and Node suites.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use knocker_core::provider::{Pairs, ProviderOptions, Request, Secret, VerifyContext};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/providers")
}

fn pairs(v: &Value) -> Pairs {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn run(file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("bad JSON: {e}"))?;
    let name = v["provider"].as_str().ok_or("no provider")?;
    let provider = knocker_core::providers::find(name).ok_or_else(|| format!("unknown provider {name}"))?;
    let r = &v["request"];
    let headers = pairs(&r["headers"]);
    let query = pairs(&r["query"]);
    let body = base64::engine::general_purpose::STANDARD
        .decode(r["body_b64"].as_str().ok_or("no body_b64")?)
        .map_err(|e| e.to_string())?;
    let request = Request {
        method: r["method"].as_str().unwrap_or("POST"),
        url: r["url"].as_str(),
        headers: &headers,
        query: &query,
        body: &body,
    };
    let secrets: Vec<Secret> =
        v["secrets"].as_array().ok_or("no secrets")?.iter().map(|s| Secret::from(s.as_str().unwrap())).collect();
    let options: ProviderOptions = v["options"].as_object().cloned().unwrap_or_default();
    provider.validate_options(&options).map_err(|e| format!("options rejected: {e}"))?;
    let ctx = VerifyContext { secrets: &secrets, options: &options, now_s: v["now"].as_i64().ok_or("no now")? };
    let got = provider.verify(&request, &ctx);
    let e = &v["expected"];
    let mut problems = Vec::new();
    let valid = e["valid"].as_bool().ok_or("no expected.valid")?;
    if got.is_valid() != valid {
        problems.push(format!("valid: expected {valid}, got {:?}", got.result));
    }
    let code = got.result.as_ref().err().map(|r| r.code.clone());
    if code != opt_string(&e["error_code"]) {
        problems.push(format!("error_code: expected {}, got {code:?} ({:?})", e["error_code"], got.result));
    }
    if let Err(rej) = &got.result {
        if rej.message.is_empty() {
            problems.push("empty rejection message".into());
        }
        for s in &secrets {
            let s = String::from_utf8_lossy(s.expose());
            if s.len() >= 4 && rej.message.contains(s.as_ref()) {
                problems.push("rejection message contains a secret".into());
            }
        }
    }
    let index = got.result.as_ref().ok().copied().flatten().map(|i| i as u64);
    if index != e["secret_index"].as_u64() {
        problems.push(format!("secret_index: expected {}, got {index:?}", e["secret_index"]));
    }
    let m = &got.metadata;
    for (field, actual) in [
        ("event_id", &m.event_id),
        ("event_type", &m.event_type),
        ("delivery_id", &m.delivery_id),
        ("idempotency_key", &m.idempotency_key),
    ] {
        if *actual != opt_string(&e[field]) {
            problems.push(format!("{field}: expected {}, got {actual:?}", e[field]));
        }
    }
    let hs = &e["handshake"];
    match (&got.handshake, hs.is_null()) {
        (None, true) => {}
        (Some(h), false) => {
            let want_body = base64::engine::general_purpose::STANDARD.decode(hs["body_b64"].as_str().unwrap_or("")).unwrap();
            if Some(h.status_code as u64) != hs["status_code"].as_u64()
                || Some(h.content_type.as_str()) != hs["content_type"].as_str()
                || h.body != want_body
            {
                problems.push(format!(
                    "handshake: expected {hs}, got {} {} {}",
                    h.status_code,
                    h.content_type,
                    String::from_utf8_lossy(&h.body)
                ));
            }
        }
        (got_h, _) => problems.push(format!("handshake: expected {hs}, got {got_h:?}")),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

#[test]
fn every_provider_vector_passes() {
    let dir = vectors_dir();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
        let p = entry.unwrap().path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|x| x == "json") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no provider vectors found under {}", dir.display());
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = run(f) {
            failures.push(format!("{}: {e}", f.strip_prefix(&dir).unwrap_or(f).display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), files.len(), failures.join("\n"));
    eprintln!("{} provider vectors passed", files.len());
}

#[test]
fn every_curated_provider_has_vectors() {
    let dir = vectors_dir();
    for p in knocker_core::providers::curated() {
        let d = dir.join(p.name());
        let n = std::fs::read_dir(&d).map(|r| r.count()).unwrap_or(0);
        assert!(n >= 5, "provider {} has {n} vectors in {}", p.name(), d.display());
    }
}
