use std::time::Instant;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut c = rusqlite::Connection::open(&path).unwrap();
    if let Ok(ps) = std::env::var("PS") { c.execute_batch(&format!("PRAGMA page_size={ps}")).unwrap(); }
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=4000;").unwrap();
    for m in knocker_core::storage::MIGRATIONS { c.execute_batch(m).unwrap(); }
    c.execute_batch("INSERT INTO knocker_endpoints (name,path,max_body_bytes,max_attempts,backoff_base_s,backoff_max_s,created_at,updated_at) VALUES ('b','/b',1,1,1,1,0,0)").unwrap();
    let body = vec![b'x'; 1024];
    let variant0 = std::env::args().nth(1).unwrap_or_default();
    if variant0.contains("noidx") {
        let names: Vec<String> = c.prepare("SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND name NOT LIKE '%dedupe%'").unwrap().query_map([], |r| r.get(0)).unwrap().map(|x| x.unwrap()).collect();
        for n in names { c.execute_batch(&format!("DROP INDEX {n}")).unwrap(); }
    }
    if variant0.contains("nofk") { c.execute_batch("PRAGMA foreign_keys=OFF").unwrap(); }
    if variant0.contains("notrig") { c.execute_batch("DROP TRIGGER knocker_deliveries_append_only; DROP TRIGGER knocker_deliveries_delete_only_by_prune;").unwrap(); }
    let n = 5000;
    let variant = std::env::args().nth(1).unwrap_or_default();
    if variant0 == "bare" {
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").unwrap();
        let t = Instant::now();
        for _ in 0..n {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
            tx.prepare_cached("INSERT INTO t (body) VALUES (?1)").unwrap().execute([&body]).unwrap();
            tx.commit().unwrap();
        }
        let e = t.elapsed();
        println!("bare: {:.0}/s, {:.1}µs each", n as f64 / e.as_secs_f64(), e.as_secs_f64() * 1e6 / n as f64);
        return;
    }
    if variant0 == "bare2" {
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL); CREATE TABLE u (id INTEGER PRIMARY KEY, x INTEGER)").unwrap();
        let t = Instant::now();
        for i in 0..n {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
            tx.prepare_cached("INSERT INTO u (x) VALUES (?1)").unwrap().execute([i]).unwrap();
            tx.prepare_cached("INSERT INTO t (body) VALUES (?1)").unwrap().execute([&body]).unwrap();
            tx.commit().unwrap();
        }
        let e = t.elapsed();
        println!("bare2: {:.0}/s, {:.1}µs each", n as f64 / e.as_secs_f64(), e.as_secs_f64() * 1e6 / n as f64);
        return;
    }
    let t = Instant::now();
    for i in 0..n {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
        let key = format!("k{i}");
        if variant != "noselect" {
            let _ : Option<i64> = tx.prepare_cached("SELECT id FROM knocker_events WHERE endpoint_id = 1 AND dedupe_key = ?1").unwrap().query_row([&key], |r| r.get(0)).ok();
        }
        tx.prepare_cached("INSERT INTO knocker_events (endpoint_id, received_at, provider_event_id, event_type, dedupe_key, status, attempt_count, max_attempts, run_at_ms, updated_at_ms) VALUES (1, ?1, ?2, 'invoice.paid', ?3, 'received', 0, 3, ?4, ?4)").unwrap().execute(rusqlite::params![1700000000 + i / 100, key, key, i]).unwrap();
        let eid = tx.last_insert_rowid();
        if variant != "noevent" {
        tx.prepare_cached("INSERT INTO knocker_deliveries (endpoint_id, event_id, received_at, provider_event_id, event_type, dedupe_key, method, headers_json, query_json, body_blob, body_size, signature_valid, status_code) VALUES (1, ?1, ?2, ?3, 'invoice.paid', ?3, 'POST', '{}', '{}', ?4, 1024, 1, 204)").unwrap().execute(rusqlite::params![eid, 1700000000 + i / 100, key, body]).unwrap();
        }
        tx.commit().unwrap();
    }
    let e = t.elapsed();
    println!("{variant}: {:.0}/s, {:.1}µs each", n as f64 / e.as_secs_f64(), e.as_secs_f64() * 1e6 / n as f64);
}
