//! Shared test support: a manual clock, a temp file, raw row reads.
#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use knocker_core::*;

pub const T0_MS: i64 = 1_700_000_000_000;

#[derive(Debug)]
pub struct ManualClock(pub AtomicI64);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(T0_MS)))
    }
    pub fn advance_s(&self, s: f64) {
        self.0.fetch_add((s * 1000.0) as i64, Ordering::SeqCst);
    }
    pub fn now_s(&self) -> i64 {
        self.0.load(Ordering::SeqCst) / 1000
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub path: String,
    pub clock: Arc<ManualClock>,
    pub k: Knocker,
}

pub fn options(clock: &Arc<ManualClock>) -> Options {
    Options {
        clock: clock.clone(),
        retry: RetryPolicy { max_attempts: 3, backoff_base_s: 10.0, backoff_max_s: 100.0 },
        // batches are bounded by wall time; keep them whole so tests do not depend on load
        handler_batch_max_ms: 60_000,
        ..Options::default()
    }
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("knocker.sqlite").to_string_lossy().into_owned();
    let clock = ManualClock::new();
    let k = Knocker::open_with(&path, options(&clock)).unwrap();
    Fixture { dir, path, clock, k }
}

impl Fixture {
    pub fn reopen(&self) -> Knocker {
        Knocker::open_with(&self.path, options(&self.clock)).unwrap()
    }
    pub fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }
    pub fn count(&self, sql: &str) -> i64 {
        self.raw().query_row(sql, [], |r| r.get(0)).unwrap()
    }
    pub fn plain_endpoint(&self, name: &str) {
        self.k.add_endpoint(EndpointConfig::new(name, format!("/hooks/{name}"))).unwrap();
    }
    /// Trusted ingest with an explicit dedupe key.
    pub fn ingest(&self, endpoint: &str, body: &[u8], key: Option<&str>) -> IngestResult {
        let mut r = Receipt::new(body);
        r.dedupe_key = key.map(str::to_string);
        r.event_type = Some("test.event".into());
        self.k.ingest(endpoint, &r, TrustedOutcome::valid()).unwrap()
    }
}

pub fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}
