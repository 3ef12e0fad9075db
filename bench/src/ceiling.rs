//! The most receipts per second any group commit could reach on this machine: the SQL one
//! receipt runs (dedupe lookup, event insert, delivery insert with a 1 KiB body), for many
//! receipts in one transaction with a savepoint each, on one thread, with no checkpoints, no
//! callers to wake and nothing else running. Concurrent ingest also pays for its producers,
//! their wake-ups and the checkpointer's copying, so it stays below this ceiling.

use std::time::Instant;

/// Receipts per second for `receipts` receipts stored `batch` per transaction into `path`, a
/// file Knocker has created (schema and endpoint id 1 present).
pub fn receipts_per_second(path: &str, batch: usize, receipts: usize, body_bytes: usize) -> f64 {
    let c = rusqlite::Connection::open(path).expect("open");
    c.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-2000; PRAGMA wal_autocheckpoint=0;")
        .expect("pragmas");
    let mut body = vec![b'x'; body_bytes];
    let started = Instant::now();
    let mut i = 0usize;
    while i < receipts {
        c.execute_batch("BEGIN IMMEDIATE").expect("begin");
        for _ in 0..batch.min(receipts - i) {
            c.prepare_cached("SAVEPOINT receipt").and_then(|mut s| s.execute([])).expect("savepoint");
            body[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = format!("k{i}");
            let id = i as i64 + 1;
            let at = 1_700_000_000_000i64 + i as i64;
            let existing: Option<i64> = c
                .prepare_cached("SELECT id FROM knocker_events WHERE endpoint_id = 1 AND dedupe_key = ?1")
                .and_then(|mut s| s.query_row([&key], |r| r.get(0)))
                .ok();
            assert!(existing.is_none());
            c.prepare_cached(
                "INSERT INTO knocker_events (id, endpoint_id, received_at, dedupe_key, status, attempt_count,
                     max_attempts, run_at_ms, updated_at_ms)
                 VALUES (?1, 1, ?2, ?3, 'received', 0, 20, ?2, ?2)",
            )
            .and_then(|mut s| s.execute(rusqlite::params![id, at, key]))
            .expect("event");
            c.prepare_cached(
                "INSERT INTO knocker_deliveries (id, endpoint_id, event_id, received_at, dedupe_key, method, url,
                     headers_json, query_json, body_blob, body_size, signature_valid, status_code)
                 VALUES (?1, 1, ?1, ?2, ?3, 'POST', '/bench', '[]', '[]', ?4, ?5, 1, 204)",
            )
            .and_then(|mut s| s.execute(rusqlite::params![id, at, key, &body, body_bytes as i64]))
            .expect("delivery");
            c.prepare_cached("RELEASE receipt").and_then(|mut s| s.execute([])).expect("release");
            i += 1;
        }
        c.execute_batch("COMMIT").expect("commit");
    }
    receipts as f64 / started.elapsed().as_secs_f64()
}
