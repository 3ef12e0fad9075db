//! A webhook route in axum: the raw body and headers go to `receive`, and the route answers with
//! the status code (and handshake body) Knocker decided. SQLite work runs on the blocking pool.
//!
//! `cargo run -p knocker --example axum_route` serves on 127.0.0.1:3000;
//! `-- --self-test` serves on a free port, sends a signed and a forged webhook, checks the
//! answers and the stored rows, and exits (run by `make test`).

use std::io::{Read, Write};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use knocker::{Endpoint, Knocker, Request};

const SECRET: &str = "whsec_axum_example";

/// POST /hooks/{endpoint}
async fn webhook(State(inbox): State<Arc<Knocker>>, Path(endpoint): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let mut request = Request::post(&body);
        for (name, value) in &headers {
            if let Ok(v) = value.to_str() {
                request = request.header(name.as_str(), v);
            }
        }
        inbox.receive(&endpoint, request)
    })
    .await;
    match result {
        Ok(Ok(r)) => {
            let status = StatusCode::from_u16(r.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, r.response_body.unwrap_or_default()).into_response()
        }
        // Not stored (or not known to be stored): a 5xx makes the provider retry.
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn post_raw(addr: std::net::SocketAddr, path: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let dir = tempfile::tempdir()?;
    let path = if self_test { dir.path().join("axum.sqlite").to_string_lossy().into_owned() } else { "axum-example.sqlite".into() };
    let inbox = Arc::new(Knocker::open(&path)?);
    inbox.add_endpoint(Endpoint::new("github", "/hooks/github").provider("github").secret(SECRET))?;
    let app = Router::new().route("/hooks/{endpoint}", post(webhook)).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind(if self_test { "127.0.0.1:0" } else { "127.0.0.1:3000" }).await?;
    let addr = listener.local_addr()?;
    if !self_test {
        println!("listening on http://{addr}/hooks/github");
        axum::serve(listener, app).await?;
        return Ok(());
    }
    tokio::spawn(async move { axum::serve(listener, app).await });
    let body = br#"{"zen":"Design for failure.","hook_id":7}"#.to_vec();
    let sig = knocker::testing::hmac_sha256_hex(SECRET.as_bytes(), &body);
    let codes = tokio::task::spawn_blocking(move || {
        let signed = vec![
            ("X-Hub-Signature-256", format!("sha256={sig}")),
            ("X-GitHub-Delivery", "d-axum-1".to_string()),
            ("X-GitHub-Event", "ping".to_string()),
        ];
        let forged = vec![("X-Hub-Signature-256", "sha256=00".to_string()), ("X-GitHub-Delivery", "d-axum-2".to_string())];
        (
            post_raw(addr, "/hooks/github", &signed, &body),
            post_raw(addr, "/hooks/github", &signed, &body),
            post_raw(addr, "/hooks/github", &forged, &body),
            post_raw(addr, "/hooks/nowhere", &signed, &body),
        )
    })
    .await?;
    assert_eq!(codes, (204, 204, 401, 404), "valid, duplicate, forged, unknown endpoint");
    let stats = inbox.stats()?;
    assert_eq!(stats.by_status.get("received"), Some(&1), "one event for the delivery and its retry");
    assert_eq!(stats.orphan_deliveries, 1);
    println!("axum route ok: {codes:?}");
    Ok(())
}
