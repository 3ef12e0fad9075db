//! Schema: pragmas, versioning, refusal of newer or foreign files, and query plans that never
//! scan a table.
mod common;
use common::*;
use knocker_core::*;

#[test]
fn pragmas_and_schema_version() {
    let f = fixture();
    let c = f.raw();
    let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    for t in ["knocker_endpoints", "knocker_events", "knocker_deliveries", "knocker_attempts", "knocker_prune_audits"] {
        let n: i64 = c.query_row("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1", [t], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "{t}");
    }
}

#[test]
fn reopening_is_idempotent_and_keeps_data() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    drop(f.reopen());
    let k = f.reopen();
    assert_eq!(k.get_event(id).unwrap().body, b"x");
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let f = fixture();
    f.raw().execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)).unwrap();
    let e = Knocker::open(&f.path).unwrap_err();
    assert_eq!(e.code(), "schema_too_new");
    assert!(e.to_string().contains("upgrade"), "{e}");
}

#[test]
fn a_foreign_knocker_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite").to_string_lossy().into_owned();
    rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE knocker_events (id INTEGER PRIMARY KEY)").unwrap();
    assert_eq!(Knocker::open(&path).unwrap_err().code(), "not_knocker_database");
}

#[test]
fn other_tables_in_the_file_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite").to_string_lossy().into_owned();
    rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)").unwrap();
    Knocker::open(&path).unwrap();
}

fn plan(c: &rusqlite::Connection, sql: &str, args: &[rusqlite::types::Value]) -> Vec<String> {
    let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect()
}

/// A plain `SCAN <table>` (no index) reads the whole table.
fn assert_no_table_scan(name: &str, lines: &[String]) {
    for l in lines {
        let scans_table = l.starts_with("SCAN ") && !l.contains("USING") && !l.contains("CONSTANT ROW");
        assert!(!scans_table, "{name} scans a table: {lines:#?}");
    }
}

#[test]
fn every_list_prune_and_claim_query_uses_an_index() {
    use knocker_core::storage;
    use rusqlite::types::Value as V;
    let f = fixture();
    f.plain_endpoint("p");
    // give the planner statistics that look like a real file
    for i in 0..200 {
        f.ingest("p", b"x", Some(&format!("k{i}")));
    }
    let c = f.raw();
    c.execute_batch("ANALYZE").unwrap();
    let event_filters = [
        EventFilter::default(),
        EventFilter { status: Some("dead".into()), ..Default::default() },
        EventFilter { endpoint: Some("p".into()), ..Default::default() },
        EventFilter { event_type: Some("t".into()), ..Default::default() },
        EventFilter { since: Some(1), ..Default::default() },
        EventFilter { status: Some("dead".into()), endpoint: Some("p".into()), since: Some(1), ..Default::default() },
        EventFilter { before_id: Some(10), ..Default::default() },
    ];
    for flt in &event_filters {
        let (sql, args) = storage::list_events_sql(flt);
        assert_no_table_scan(&format!("list_events {flt:?}"), &plan(&c, &sql, &args));
    }
    let delivery_filters = [
        DeliveryFilter::default(),
        DeliveryFilter { event_id: Some(1), ..Default::default() },
        DeliveryFilter { endpoint: Some("p".into()), ..Default::default() },
        DeliveryFilter { orphaned: Some(true), ..Default::default() },
        DeliveryFilter { signature_valid: Some(false), since: Some(1), ..Default::default() },
    ];
    for flt in &delivery_filters {
        let (sql, args) = storage::list_deliveries_sql(flt);
        assert_no_table_scan(&format!("list_deliveries {flt:?}"), &plan(&c, &sql, &args));
    }
    for flt in [AuditFilter::default(), AuditFilter { kind: Some("prune_events".into()), since: Some(1), limit: 5 }] {
        let (sql, args) = storage::list_prune_audits_sql(&flt);
        assert_no_table_scan(&format!("list_prune_audits {flt:?}"), &plan(&c, &sql, &args));
    }
    for flt in [OperatorAuditFilter::default(), OperatorAuditFilter { action: Some("requeue".into()), since: Some(1), limit: 5 }] {
        let (sql, args) = storage::list_operator_audits_sql(&flt);
        assert_no_table_scan(&format!("list_operator_audits {flt:?}"), &plan(&c, &sql, &args));
    }
    let fixed: [(&str, &str, Vec<V>); 7] = [
        ("claim ready", "SELECT id FROM knocker_events WHERE status IN ('received', 'failed') AND run_at_ms <= ?1 ORDER BY run_at_ms, id LIMIT ?2", vec![V::Integer(0), V::Integer(16)]),
        ("claim expired", "SELECT id, attempt_count, max_attempts, lease_owner, lease_expires_at_ms FROM knocker_events WHERE status = 'processing' AND lease_expires_at_ms < ?1 ORDER BY lease_expires_at_ms LIMIT ?2", vec![V::Integer(0), V::Integer(16)]),
        ("dedupe", "SELECT id FROM knocker_events WHERE endpoint_id = ?1 AND dedupe_key = ?2", vec![V::Integer(1), V::Text("k".into())]),
        ("prune events", "SELECT id FROM knocker_events WHERE status IN (?1, ?2) AND received_at < ?3 ORDER BY received_at, id LIMIT ?4", vec![V::Text("handled".into()), V::Text("dead".into()), V::Integer(0), V::Integer(10)]),
        ("prune orphans", "SELECT id FROM knocker_deliveries WHERE event_id IS NULL AND received_at < ?1 ORDER BY received_at, id LIMIT ?2", vec![V::Integer(0), V::Integer(10)]),
        ("next due", "SELECT min(run_at_ms) FROM knocker_events WHERE status IN ('received', 'failed')", vec![]),
        ("attempts", "SELECT count(*) FROM knocker_attempts WHERE event_id = ?1", vec![V::Integer(1)]),
    ];
    for (name, sql, args) in &fixed {
        assert_no_table_scan(name, &plan(&c, sql, args));
    }
}

#[test]
fn a_version_1_file_migrates_forward_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite").to_string_lossy().into_owned();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(knocker_core::storage::MIGRATIONS[0]).unwrap();
        c.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO knocker_endpoints (name, path, max_body_bytes, max_attempts, backoff_base_s, backoff_max_s, created_at, updated_at)
             VALUES ('old', '/old', 1024, 3, 1, 10, 0, 0);",
        )
        .unwrap();
    }
    let k = Knocker::open(&path).unwrap();
    assert_eq!(k.endpoint_names().unwrap(), vec!["old".to_string()]);
    let v: i64 = rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert!(k.list_operator_audits(&OperatorAuditFilter::default()).unwrap().is_empty());
}

#[test]
fn new_files_get_small_pages_and_existing_files_keep_theirs() {
    let f = fixture();
    let ps: i64 = f.raw().query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(ps, knocker_core::storage::NEW_FILE_PAGE_SIZE as i64);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite").to_string_lossy().into_owned();
    rusqlite::Connection::open(&path).unwrap().execute_batch("PRAGMA page_size=4096; CREATE TABLE users (id INTEGER PRIMARY KEY)").unwrap();
    Knocker::open(&path).unwrap();
    let ps: i64 = rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(ps, 4096);
}

#[test]
fn checkpoints_run_in_the_background_and_no_commit_runs_one() {
    let f = fixture();
    f.plain_endpoint("p");
    let c = f.raw();
    let auto: i64 = c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
    assert!(auto > 0, "a plain connection keeps SQLite's default");
    let before = std::fs::metadata(&f.path).unwrap().len();
    let body = vec![b'z'; 2048];
    for i in 0..1500 {
        let r = Receipt { dedupe_key: Some(format!("k{i}")), ..Receipt::new(&body) };
        f.k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    }
    // the background checkpointer copies the frames into the database file while the handle
    // stays open
    let start = std::time::Instant::now();
    while std::fs::metadata(&f.path).unwrap().len() < before + 3_000_000 {
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "no background checkpoint happened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn close_leaves_one_self_contained_file() {
    let f = fixture();
    f.plain_endpoint("p");
    for i in 0..50 {
        f.ingest("p", b"x", Some(&format!("k{i}")));
    }
    f.k.list_events(&EventFilter::default()).unwrap(); // a reader connection in the pool
    f.k.close();
    assert!(!std::path::Path::new(&format!("{}-wal", f.path)).exists(), "WAL checkpointed and removed at close");
    let n: i64 = rusqlite::Connection::open(&f.path).unwrap().query_row("SELECT count(*) FROM knocker_events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 50);
}

#[test]
fn a_version_3_file_migrates_to_tables_without_autoincrement_and_keeps_ids_unique() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.sqlite").to_string_lossy().into_owned();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;").unwrap();
        for m in &knocker_core::storage::MIGRATIONS[..3] {
            c.execute_batch(m).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO knocker_endpoints (name, path, max_body_bytes, max_attempts, backoff_base_s, backoff_max_s, created_at, updated_at)
             VALUES ('old', '/old', 1024, 3, 1, 10, 0, 0);",
        )
        .unwrap();
        for i in 1..=5 {
            c.execute(
                "INSERT INTO knocker_events (endpoint_id, received_at, dedupe_key, status, max_attempts, run_at_ms, updated_at_ms)
                 VALUES (1, 100, ?1, 'handled', 3, 0, 0)",
                [format!("k{i}")],
            )
            .unwrap();
            c.execute(
                "INSERT INTO knocker_deliveries (endpoint_id, event_id, received_at, dedupe_key, method, headers_json, query_json,
                     body_blob, body_size, signature_valid, status_code, traceparent)
                 VALUES (1, ?1, 100, ?2, 'POST', '{}', '{}', x'7b7d', 2, 1, 204, 'tp')",
                rusqlite::params![i, format!("k{i}")],
            )
            .unwrap();
            c.execute(
                "INSERT INTO knocker_attempts (event_id, attempt_no, started_at_ms, finished_at_ms, duration_ms, outcome)
                 VALUES (?1, 1, 0, 1, 1, 'handled')",
                [i],
            )
            .unwrap();
        }
        // The two newest were pruned under v3: AUTOINCREMENT remembered 5.
        c.execute_batch(
            "INSERT INTO knocker_prune_guard (id) VALUES (1);
             DELETE FROM knocker_deliveries WHERE event_id >= 4; DELETE FROM knocker_events WHERE id >= 4;
             DELETE FROM knocker_prune_guard;",
        )
        .unwrap();
    }
    let k = Knocker::open(&path).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let sql: String = c.query_row("SELECT sql FROM sqlite_master WHERE name = 'knocker_events'", [], |r| r.get(0)).unwrap();
    assert!(!sql.contains("AUTOINCREMENT"), "{sql}");
    // Rows, links and columns kept.
    let e = k.get_event(2).unwrap();
    assert_eq!((e.status, e.dedupe_key.as_deref()), (Status::Handled, Some("k2")));
    let d: (i64, String) = c.query_row("SELECT event_id, traceparent FROM knocker_deliveries WHERE id = 3", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(d, (3, "tp".to_string()));
    // Triggers and foreign keys are back: deliveries stay append-only; attempts cascade.
    let upd = c.execute("UPDATE knocker_deliveries SET status_code = 500 WHERE id = 1", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let fk: i64 = c.query_row("SELECT count(*) FROM pragma_foreign_key_list('knocker_attempts') WHERE \"table\" = 'knocker_events'", [], |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
    let plans: i64 = c.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('knocker_events', 'knocker_deliveries')", [], |r| r.get(0)).unwrap();
    assert_eq!(plans, 11);
    // Ids 4 and 5 were handed out before: the next event and delivery number past them.
    let r = k.ingest("old", &Receipt { dedupe_key: Some("new".into()), ..Receipt::new(b"{}") }, TrustedOutcome::valid()).unwrap();
    assert_eq!((r.event_id, r.delivery_id), (Some(6), Some(6)));
}
