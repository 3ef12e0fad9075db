//! Crash safety with real processes: the test binary re-runs itself as the child (an ignored
//! test selected with `--ignored --exact`), and the parent kills it with SIGKILL. The harness
//! prints the test name before the child's first line, so markers are searched within lines.
mod common;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use knocker_core::*;

fn child(test: &str, path: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--ignored", "--exact", "--nocapture", "--test-threads=1"])
        .env("KNOCKER_CRASH_DB", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn db_path() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("crash.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open(&p).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    k.close();
    (dir, p)
}

#[test]
#[ignore = "child process of sigkill_mid_ingest_loses_no_acknowledged_receipt"]
fn child_ingest_loop() {
    let Ok(path) = std::env::var("KNOCKER_CRASH_DB") else { return };
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    let body = vec![b'x'; 2048];
    for i in 0.. {
        let r = Receipt { dedupe_key: Some(format!("key-{i}")), ..Receipt::new(&body) };
        k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
        println!("ACK key-{i}");
    }
}

#[test]
fn sigkill_mid_ingest_loses_no_acknowledged_receipt() {
    let (_dir, path) = db_path();
    let mut c = child("child_ingest_loop", &path);
    let mut acked = Vec::new();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    while acked.len() < 300 {
        let line = lines.next().expect("child output").unwrap();
        if let Some((_, key)) = line.split_once("ACK ") {
            acked.push(key.to_string());
        }
    }
    c.kill().unwrap(); // SIGKILL, mid-loop
    c.wait().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let k = Knocker::open(&path).unwrap();
    for key in &acked {
        let n: i64 = conn.query_row("SELECT count(*) FROM knocker_events WHERE dedupe_key = ?1", [key], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "acknowledged {key} missing after SIGKILL");
    }
    // every event has exactly its one delivery: no half-written receipt
    let orphans: i64 = conn
        .query_row("SELECT count(*) FROM knocker_events e WHERE NOT EXISTS (SELECT 1 FROM knocker_deliveries d WHERE d.event_id = e.id)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(orphans, 0);
    k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Ok(())));
    let total: i64 = conn.query_row("SELECT count(*) FROM knocker_events", [], |r| r.get(0)).unwrap();
    assert_eq!(k.drain(None).unwrap() as i64, total, "everything committed is processable");
}

#[test]
#[ignore = "child process of sigkill_inside_an_open_transaction_leaves_no_phantom_rows"]
fn child_open_transaction() {
    let Ok(path) = std::env::var("KNOCKER_CRASH_DB") else { return };
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    // A handler that blocks inside its transaction after writing the event's business row.
    rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE IF NOT EXISTS business (id INTEGER PRIMARY KEY)").unwrap();
    k.ingest("p", &Receipt { dedupe_key: Some("evt-killed".into()), ..Receipt::new(b"{}") }, TrustedOutcome::valid()).unwrap();
    k.handle("p", None, Arc::new(|_: &Event, tx: &HandlerTx<'_>| {
        tx.execute("INSERT INTO business (id) VALUES (1)", &[])?;
        println!("READY");
        std::thread::sleep(Duration::from_secs(60));
        Ok(())
    }));
    k.drain(None).unwrap();
}

#[test]
fn sigkill_inside_an_open_transaction_leaves_no_phantom_rows() {
    let (_dir, path) = db_path();
    let mut c = child("child_open_transaction", &path);
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    let t = Instant::now();
    loop {
        let line = lines.next().expect("child output").unwrap();
        if line.ends_with("READY") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20));
    }
    c.kill().unwrap();
    c.wait().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(conn.query_row::<String, _, _>("PRAGMA integrity_check", [], |r| r.get(0)).unwrap(), "ok");
    assert_eq!(conn.query_row::<i64, _, _>("SELECT count(*) FROM business", [], |r| r.get(0)).unwrap(), 0, "uncommitted handler write is gone");
    let (status, id): (String, i64) = conn.query_row("SELECT status, id FROM knocker_events", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(status, "processing", "claim committed; the handler transaction did not");
    // after the lease expires another process finishes it
    let clock = Arc::new(Shifted(Duration::from_secs(120)));
    let k = Knocker::open_with(&path, Options { clock, ..Options::default() }).unwrap();
    k.handle("p", None, Arc::new(|_: &Event, tx: &HandlerTx<'_>| {
        tx.execute("INSERT INTO business (id) VALUES (1)", &[])?;
        Ok(())
    }));
    assert_eq!(k.drain(None).unwrap(), 1);
    assert_eq!(k.get_event(id).unwrap().status, Status::Handled);
    let outcomes: Vec<String> = k.list_attempts(id).unwrap().into_iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, vec!["lost", "handled"]);
}

#[derive(Debug)]
struct Shifted(Duration);
impl Clock for Shifted {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.as_millis() as i64
    }
}

#[test]
#[ignore = "child process of committed_ingress_survives_a_fresh_process"]
fn child_commit_and_exit() {
    let Ok(path) = std::env::var("KNOCKER_CRASH_DB") else { return };
    let k = Knocker::open(&path).unwrap();
    let r = Receipt { provider_delivery_id: Some("delivery-committed".into()), event_type: Some("push".into()), ..Receipt::new(b"{}") };
    let res = k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    println!("EVENT {}", res.event_id.unwrap());
}

#[test]
fn committed_ingress_survives_a_fresh_process_and_is_processable() {
    let (_dir, path) = db_path();
    let out = child("child_commit_and_exit", &path).wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let id: i64 = text.lines().find_map(|l| l.split_once("EVENT ").map(|(_, id)| id)).unwrap().trim().parse().unwrap();
    let k = Knocker::open(&path).unwrap();
    assert_eq!(k.get_event(id).unwrap().status, Status::Received);
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    k.handle("p", Some("push"), Arc::new(move |e: &Event, _: &HandlerTx<'_>| {
        *s.lock().unwrap() = e.provider_delivery_id.clone();
        Ok(())
    }));
    k.drain(None).unwrap();
    assert_eq!(seen.lock().unwrap().as_deref(), Some("delivery-committed"));
}

#[test]
#[ignore = "child process of a_wal_deleted_by_another_sqlite_library_loses_no_acknowledged_receipt"]
fn child_wal_deleted_midway() {
    let Ok(path) = std::env::var("KNOCKER_CRASH_DB") else { return };
    let k = Knocker::open(&path).unwrap();
    let ingest = |i: usize| {
        let r = Receipt { dedupe_key: Some(format!("key-{i}")), ..Receipt::new(b"{}") };
        k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
        println!("ACK key-{i}");
    };
    for i in 0..5 {
        ingest(i);
    }
    // What another SQLite copy in this process does when it closes its last connection to the
    // file: checkpoint every frame, then delete -wal and -shm (it cannot see our connections'
    // locks). Knocker's background checkpointer may hold the checkpoint lock for a moment
    // (the checkpoint then reports busy and copies nothing): try again until it is complete.
    let other = rusqlite::Connection::open(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while other.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)).unwrap() != 0 {
        assert!(Instant::now() < deadline, "the checkpoint stayed busy");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(other);
    std::fs::remove_file(format!("{path}-wal")).unwrap();
    let _ = std::fs::remove_file(format!("{path}-shm"));
    for i in 5..10 {
        ingest(i);
    }
    // The background checkpointer follows the new WAL too: the main file alone soon holds
    // every receipt (a checkpointer left on the deleted WAL would copy nothing, or old frames).
    let deadline = Instant::now() + Duration::from_secs(10);
    let in_main_file = loop {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("main-only.sqlite");
        std::fs::copy(&path, &copy).unwrap();
        let n: i64 = rusqlite::Connection::open(&copy)
            .and_then(|c| c.query_row("SELECT count(*) FROM knocker_events", [], |r| r.get(0)))
            .unwrap_or(-1);
        if n == 10 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("MAIN FILE {in_main_file}");
    println!("DONE");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_wal_deleted_by_another_sqlite_library_loses_no_acknowledged_receipt() {
    let (_dir, path) = db_path();
    let mut c = child("child_wal_deleted_midway", &path);
    let mut acked = Vec::new();
    let mut in_main_file = None;
    for line in BufReader::new(c.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some((_, key)) = line.split_once("ACK ") {
            acked.push(key.to_string());
        }
        if let Some((_, n)) = line.split_once("MAIN FILE ") {
            in_main_file = n.trim().parse::<i64>().ok();
        }
        if line.ends_with("DONE") {
            break;
        }
    }
    c.kill().unwrap(); // crash before any clean close could checkpoint a ghost WAL
    c.wait().unwrap();
    assert_eq!(acked.len(), 10);
    assert_eq!(in_main_file, Some(10), "the checkpointer did not copy the new WAL into the main file");
    let conn = rusqlite::Connection::open(&path).unwrap();
    for key in &acked {
        let n: i64 = conn.query_row("SELECT count(*) FROM knocker_events WHERE dedupe_key = ?1", [key], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "acknowledged {key} lost with the deleted WAL");
    }
}

#[test]
#[ignore = "child process of sigkill_during_group_commits_keeps_every_acknowledged_receipt"]
fn child_concurrent_ingest() {
    let Ok(path) = std::env::var("KNOCKER_CRASH_DB") else { return };
    let k = Knocker::open(&path).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let k = k.clone();
            std::thread::spawn(move || {
                let body = vec![b'y'; 512];
                for i in 0.. {
                    let r = Receipt { dedupe_key: Some(format!("t{t}-{i}")), ..Receipt::new(&body) };
                    k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
                    println!("ACK t{t}-{i}");
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn sigkill_during_group_commits_keeps_every_acknowledged_receipt() {
    let (_dir, path) = db_path();
    let mut c = child("child_concurrent_ingest", &path);
    let mut acked = Vec::new();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    while acked.len() < 2000 {
        let line = lines.next().expect("child output").unwrap();
        if let Some((_, key)) = line.split_once("ACK ") {
            acked.push(key.to_string());
        }
    }
    c.kill().unwrap();
    c.wait().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(conn.query_row::<String, _, _>("PRAGMA integrity_check", [], |r| r.get(0)).unwrap(), "ok");
    let mut st = conn.prepare("SELECT count(*) FROM knocker_events WHERE dedupe_key = ?1").unwrap();
    for key in &acked {
        assert_eq!(st.query_row([key], |r| r.get::<_, i64>(0)).unwrap(), 1, "acknowledged {key} missing");
    }
    // a batch is all or nothing: no event without its delivery, no delivery of an unlinked key
    let torn: i64 = conn
        .query_row("SELECT count(*) FROM knocker_events e WHERE NOT EXISTS (SELECT 1 FROM knocker_deliveries d WHERE d.event_id = e.id)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(torn, 0);
}
