//! The `knocker` operator CLI, run as a subprocess against files prepared with the `knocker`
//! crate: output (tables and --json), stored rows (read back with rusqlite), and bad input
//! (missing file, not a Knocker file, newer schema, unknown id, wrong state) with the
//! documented message and exit code.

use std::process::{Command, Output, Stdio};

use knocker::{Endpoint, Event, HandlerError, Knocker, Request, RetryPolicy, Transaction};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_knocker");

struct Fx {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    path: String,
    handled: i64,
    dead: Vec<i64>,
    received: i64,
    binary_delivery: i64,
    orphan: i64,
}

/// plain: handled, two dead (poison), one received; binary body on the handled event's
/// duplicate; shop: one forged (orphan) delivery.
fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(Endpoint::new("plain", "/hooks/plain").retry(RetryPolicy {
        max_attempts: 1,
        backoff_base_s: 1.0,
        backoff_max_s: 1.0,
    }))
    .unwrap();
    k.add_endpoint(
        Endpoint::new("shop", "/hooks/shop").provider("generic-hmac").secret("s3cret").option("header", "X-Signature"),
    )
    .unwrap();
    k.handle("plain", None, |e: &Event, _tx: &Transaction| {
        if String::from_utf8_lossy(&e.body).contains("poison") {
            Err(HandlerError::Failed("cannot parse".into()))
        } else {
            Ok(())
        }
    });
    let ok = k.receive("plain", Request::post(br#"{"n":1}"#).dedupe_key("k1").event_type("order.paid")).unwrap();
    let bin = k.receive("plain", Request::post(&[0xff, 0x00, 0x1b, 0x41]).dedupe_key("k1")).unwrap();
    assert!(bin.duplicate);
    let d1 = k.receive("plain", Request::post(br#"{"poison":1}"#).dedupe_key("k2")).unwrap();
    let d2 = k.receive("plain", Request::post(br#"{"poison":2}"#).dedupe_key("k3")).unwrap();
    assert_eq!(k.drain(None).unwrap(), 3);
    let r = k.receive("plain", Request::post(b"later").dedupe_key("k4")).unwrap();
    let forged = k.receive("shop", Request::post(b"{}").header("X-Signature", "sha256=00")).unwrap();
    assert_eq!(forged.status_code, 401);
    k.close();
    Fx {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        path,
        handled: ok.event_id.unwrap(),
        dead: vec![d1.event_id.unwrap(), d2.event_id.unwrap()],
        received: r.event_id.unwrap(),
        binary_delivery: bin.delivery_id.unwrap(),
        orphan: forged.delivery_id.unwrap(),
    }
}

fn run(db: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("KNOCKER_DB")
        .env("USER", "tester")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(db: &str, args: &[&str]) -> String {
    let o = run(db, args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: stderr {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn json(db: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok(db, &a)).unwrap()
}

/// Exit code and stderr of a failing run.
fn fails(db: &str, args: &[&str]) -> (i32, String) {
    let o = run(db, args);
    (o.status.code().unwrap(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn raw(path: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn status_of(path: &str, id: i64) -> String {
    raw(path).query_row("SELECT status FROM knocker_events WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

fn count(path: &str, sql: &str) -> i64 {
    raw(path).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn help_documents_commands_and_exit_codes() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8(o.stdout).unwrap();
    for needle in ["Exit codes", "not a Knocker database", "events", "requeue", "doctor", "backup", "--db"] {
        assert!(s.contains(needle), "help lacks {needle}: {s}");
    }
    let o = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(BIN).arg("stats").env_remove("KNOCKER_DB").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("KNOCKER_DB"));
}

#[test]
fn db_comes_from_the_environment() {
    let f = fixture();
    let o = Command::new(BIN).args(["stats", "--json"]).env("KNOCKER_DB", &f.path).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dead"], 2);
}

#[test]
fn events_list_filters_and_pages() {
    let f = fixture();
    let table = ok(&f.path, &["events", "list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("dead") && table.contains("handled") && table.contains("cannot parse"), "{table}");
    let v = json(&f.path, &["events", "list"]);
    assert_eq!(v["events"].as_array().unwrap().len(), 4);
    assert_eq!(v["next_cursor"], Value::Null);
    let v = json(&f.path, &["events", "list", "--status", "dead"]);
    let ids: Vec<i64> = v["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![f.dead[1], f.dead[0]]);
    let v = json(&f.path, &["events", "list", "--type", "order.paid"]);
    assert_eq!(v["events"][0]["id"], f.handled);
    // Keyset paging.
    let p1 = json(&f.path, &["events", "list", "--limit", "3"]);
    let cursor = p1["next_cursor"].as_i64().unwrap();
    let p2 = json(&f.path, &["events", "list", "--limit", "3", "--cursor", &cursor.to_string()]);
    assert_eq!(p2["events"].as_array().unwrap().len(), 1);
    assert_eq!(p2["events"][0]["id"], f.handled);
    assert!(ok(&f.path, &["events", "list", "--limit", "3"]).contains(&format!("--cursor {cursor}")));
    // Time filters: a duration before now, or a Unix time.
    assert_eq!(json(&f.path, &["events", "list", "--since", "1h"])["events"].as_array().unwrap().len(), 4);
    assert_eq!(json(&f.path, &["events", "list", "--until", "1"])["events"].as_array().unwrap().len(), 0);
    let (code, err) = fails(&f.path, &["events", "list", "--since", "yesterday"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("duration"), "{err}");
    let (code, err) = fails(&f.path, &["events", "list", "--status", "zombie"]);
    assert_eq!((code, err.contains("unknown status")), (2, true), "{err}");
    let (code, err) = fails(&f.path, &["events", "list", "--limit", "5000"]);
    assert_eq!((code, err.contains("limit")), (2, true), "{err}");
}

#[test]
fn events_show_has_payload_deliveries_and_attempts() {
    let f = fixture();
    let s = ok(&f.path, &["events", "show", &f.dead[0].to_string()]);
    assert!(s.contains("payload (json"), "{s}");
    assert!(s.contains("\"poison\": 1"), "{s}");
    assert!(s.contains("attempts:") && s.contains("cannot parse"), "{s}");
    let v = json(&f.path, &["events", "show", &f.handled.to_string()]);
    assert_eq!(v["event"]["status"], "handled");
    assert_eq!(v["event"]["body_text"], r#"{"n":1}"#);
    assert_eq!(v["deliveries"].as_array().unwrap().len(), 2, "the original and the duplicate");
    assert_eq!(v["attempts"][0]["outcome"], "handled");
    let (code, err) = fails(&f.path, &["events", "show", "999"]);
    assert_eq!(code, 3);
    assert!(err.contains("unknown event id: 999"), "{err}");
    let (code, err) = fails(&f.path, &["events", "show", "999", "--json"]);
    assert_eq!(code, 3);
    let e: Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(e["error"]["code"], "not_found");
    assert_eq!(e["error"]["exit_code"], 3);
}

#[test]
fn deliveries_list_and_show_print_bodies_safely() {
    let f = fixture();
    let v = json(&f.path, &["deliveries", "list", "--orphaned"]);
    let ds = v["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["id"], f.orphan);
    assert_eq!(ds[0]["status_code"], 401);
    assert_eq!(json(&f.path, &["deliveries", "list", "--invalid", "--endpoint", "shop"])["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(json(&f.path, &["deliveries", "list", "--linked"])["deliveries"].as_array().unwrap().len(), 5);
    assert_eq!(json(&f.path, &["deliveries", "list", "--event", &f.handled.to_string()])["deliveries"].as_array().unwrap().len(), 2);
    let t = ok(&f.path, &["deliveries", "list"]);
    assert!(t.contains("orphan") && t.contains("signature_mismatch"), "{t}");

    // Binary body: hex dump, never raw escape bytes on the terminal; --raw writes the bytes.
    let out = f.dir.join("body.bin");
    let s = ok(&f.path, &["deliveries", "show", &f.binary_delivery.to_string(), "--raw", out.to_str().unwrap()]);
    assert!(s.contains("body (binary, 4 bytes)"), "{s}");
    assert!(s.contains("00000000  ff 00 1b 41"), "{s}");
    assert!(!s.contains('\u{1b}'), "escape byte leaked to the terminal");
    assert_eq!(std::fs::read(&out).unwrap(), vec![0xff, 0x00, 0x1b, 0x41]);
    let v = json(&f.path, &["deliveries", "show", &f.binary_delivery.to_string()]);
    assert_eq!(v["delivery"]["body_b64"], "/wAbQQ==");
    assert_eq!(v["delivery"]["body_text"], Value::Null);
    let s = ok(&f.path, &["deliveries", "show", &f.orphan.to_string()]);
    assert!(s.contains("- (orphan)") && s.contains("X-Signature: sha256=00") && s.contains("invalid"), "{s}");
    assert_eq!(fails(&f.path, &["deliveries", "show", "424242"]).0, 3);
}

#[test]
fn single_actions_follow_core_rules_and_are_audited() {
    let f = fixture();
    let dead = f.dead[0].to_string();
    let s = ok(&f.path, &["requeue", &dead, "--actor", "alice"]);
    assert!(s.contains("status is now received"), "{s}");
    assert_eq!(status_of(&f.path, f.dead[0]), "received");
    let (actor, action, ids): (String, String, String) = raw(&f.path)
        .query_row("SELECT actor, action, ids_json FROM knocker_operator_audits ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((actor.as_str(), action.as_str(), ids), ("alice", "requeue", format!("[{dead}]")));

    // Wrong state: requeue of a received event.
    let (code, err) = fails(&f.path, &["requeue", &f.received.to_string()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("status received cannot be requeued"), "{err}");
    assert_eq!(fails(&f.path, &["replay", "77777"]).0, 3);

    let v = json(&f.path, &["ignore", &f.received.to_string()]);
    assert_eq!(v["status"], "ignored");
    assert_eq!(v["actor"], "cli:tester");
    assert_eq!(status_of(&f.path, f.received), "ignored");
    let v = json(&f.path, &["replay", &f.handled.to_string()]);
    assert_eq!(v["status"], "received");

    // replay-delivery: the orphan has no event; a linked one resets its event.
    let (code, err) = fails(&f.path, &["replay-delivery", &f.orphan.to_string()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("orphaned"), "{err}");
    let dlv: i64 = raw(&f.path)
        .query_row("SELECT id FROM knocker_deliveries WHERE event_id = ?1", [f.dead[1]], |r| r.get(0))
        .unwrap();
    let v = json(&f.path, &["replay-delivery", &dlv.to_string()]);
    assert_eq!(v["event_id"], f.dead[1]);
    let replay: Option<i64> = raw(&f.path)
        .query_row("SELECT replay_delivery_id FROM knocker_events WHERE id = ?1", [f.dead[1]], |r| r.get(0))
        .unwrap();
    assert_eq!(replay, Some(dlv));
    assert_eq!(fails(&f.path, &["replay-delivery", "999"]).0, 3);
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_operator_audits"), 4);
}

#[test]
fn bulk_requeue_previews_refuses_without_yes_then_applies() {
    let f = fixture();
    let v = json(&f.path, &["requeue", "--status", "dead", "--endpoint", "plain", "--dry-run"]);
    assert_eq!(v["count"], 2);
    assert_eq!(v["ids"], serde_json::json!(f.dead));
    assert_eq!(status_of(&f.path, f.dead[0]), "dead", "a dry run changes nothing");
    let s = ok(&f.path, &["requeue", "--status", "dead", "--dry-run"]);
    assert!(s.contains("would requeue 2 events"), "{s}");

    // No terminal, no --yes: refused with its own exit code, nothing changed.
    let (code, err) = fails(&f.path, &["requeue", "--status", "dead"]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(status_of(&f.path, f.dead[0]), "dead");
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_operator_audits"), 0);

    let v = json(&f.path, &["requeue", "--status", "dead", "--yes", "--actor", "oncall"]);
    assert_eq!(v["count"], 2);
    for id in &f.dead {
        assert_eq!(status_of(&f.path, *id), "received");
    }
    let (action, actor, affected, filters): (String, String, i64, String) = raw(&f.path)
        .query_row("SELECT action, actor, affected, filters_json FROM knocker_operator_audits", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!((action.as_str(), actor.as_str(), affected), ("bulk_requeue", "oncall", 2));
    assert!(filters.contains("\"status\":\"dead\""), "{filters}");
    let s = ok(&f.path, &["requeue", "--status", "dead", "--yes"]);
    assert!(s.contains("no events match"), "{s}");

    // Bulk ignore with --max, and usage errors.
    let v = json(&f.path, &["ignore", "--status", "received", "--yes", "--max", "1"]);
    assert_eq!(v["count"], 1);
    let (code, err) = fails(&f.path, &["requeue"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs an event ID"), "{err}");
    assert_eq!(fails(&f.path, &["requeue", "3", "--status", "dead"]).0, 2);
    // A status the action does not allow is the core's invalid-state error.
    let (code, err) = fails(&f.path, &["requeue", "--status", "handled", "--yes"]);
    assert_eq!(code, 4, "{err}");
}

#[test]
fn bulk_replay_and_ignore_by_filters() {
    let f = fixture();
    let v = json(&f.path, &["replay", "--endpoint", "plain", "--since", "1h", "--yes"]);
    // handled + two dead; the received one is not replayable.
    assert_eq!(v["count"], 3);
    assert_eq!(status_of(&f.path, f.handled), "received");
    let v = json(&f.path, &["ignore", "--endpoint", "plain", "--yes"]);
    assert_eq!(v["count"], 4);
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_events WHERE status = 'ignored'"), 4);
}

#[test]
fn prune_events_and_orphans_with_dry_run_and_audits() {
    let f = fixture();
    let future = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 10).to_string();
    let v = json(&f.path, &["prune", "events", "--status", "handled,dead", "--older-than", &future, "--dry-run"]);
    assert_eq!((v["events_pruned"].as_i64(), v["dry_run"].as_bool()), (Some(3), Some(true)));
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_events"), 4);
    let s = ok(&f.path, &["prune", "events", "--older-than", &future, "--limit", "5"]);
    assert!(s.contains("pruned 1 events, 2 deliveries, 1 attempts"), "{s}");
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_events"), 3);
    // Nothing is older than 30 days: nothing goes, but the pass is audited.
    let v = json(&f.path, &["prune", "events", "--status", "dead", "--older-than", "30d"]);
    assert_eq!(v["events_pruned"], 0);
    let v = json(&f.path, &["prune", "orphans", "--older-than", &future]);
    assert_eq!(v["deliveries_pruned"], 1);
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_deliveries WHERE event_id IS NULL"), 0);
    assert_eq!(count(&f.path, "SELECT count(*) FROM knocker_prune_audits"), 3);
    let (code, err) = fails(&f.path, &["prune", "events", "--status", "received", "--older-than", "1d"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot prune received"), "{err}");
    assert_eq!(fails(&f.path, &["prune", "events", "--older-than", "soon"]).0, 2);

    let v = json(&f.path, &["audits", "list", "--actor", "ops"]);
    let ops = v["operator"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[2]["action"], "prune_events");
    assert_eq!(ops[2]["actor"], "cli:tester");
    assert_eq!(v["prune"].as_array().unwrap().len(), 3);
    let v = json(&f.path, &["audits", "list", "--kind", "operator", "--action", "prune_orphan_deliveries"]);
    assert_eq!(v["operator"].as_array().unwrap().len(), 1);
    assert_eq!(v["prune"].as_array().unwrap().len(), 0);
    let t = ok(&f.path, &["audits", "list"]);
    assert!(t.contains("operator audits:") && t.contains("prune audits:") && t.contains("prune_orphan_deliveries"), "{t}");
}

#[test]
fn stats_workers_and_stuck_leases() {
    let f = fixture();
    let v = json(&f.path, &["stats"]);
    assert_eq!(v["by_status"]["dead"], 2);
    assert_eq!(v["by_endpoint"]["plain"]["handled"], 1);
    assert_eq!(v["claimable"], 1);
    assert_eq!(v["orphan_deliveries"], 1);
    let t = ok(&f.path, &["stats"]);
    assert!(t.contains("claimable (depth)") && t.contains("(all)"), "{t}");
    let p = ok(&f.path, &["stats", "--prometheus"]);
    assert!(p.contains("# TYPE knocker_claimable_events gauge\nknocker_claimable_events 1\n"), "{p}");
    assert!(p.contains("knocker_dead_events{endpoint=\"plain\"}") && p.contains("knocker_orphan_deliveries 1"), "{p}");

    // A worker that claimed and died: its lease expires.
    let k = Knocker::open(&f.path).unwrap();
    let claims = k.core().claim("worker-gone", 1).unwrap();
    assert_eq!(claims.len(), 1);
    k.close();
    raw(&f.path).execute("UPDATE knocker_events SET lease_expires_at_ms = 1 WHERE status = 'processing'", []).unwrap();

    let v = json(&f.path, &["workers"]);
    let act = v["activity"].as_array().unwrap();
    assert!(act.iter().any(|a| a["dead"] == 2 && a["handled"] == 1), "{v}");
    assert_eq!(v["leases"][0]["lease_owner"], "worker-gone");
    assert_eq!(v["leases"][0]["expired"], true);
    let t = ok(&f.path, &["workers", "--since", "2h"]);
    assert!(t.contains("EXPIRED") && t.contains("worker-gone"), "{t}");

    // doctor: a warning, not a failure, unless --strict.
    let v = json(&f.path, &["doctor"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["worst"], "warn");
    let o = run(&f.path, &["doctor", "--strict"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("expired_leases"));
}

#[test]
fn doctor_reports_health_and_fails_on_broken_invariants() {
    let f = fixture();
    let t = ok(&f.path, &["doctor"]);
    for needle in ["journal_mode", "wal", "synchronous", "busy_timeout_ms", "quick_check", "wal_size_bytes", "schema_version", "events_without_delivery", "shop (generic-hmac)", "no problems found"] {
        assert!(t.contains(needle), "doctor lacks {needle}: {t}");
    }
    let v = json(&f.path, &["doctor"]);
    let checks = v["checks"].as_array().unwrap();
    let get = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(get("journal_mode")["value"], "wal");
    assert_eq!(get("quick_check")["level"], "ok");
    assert_eq!(get("schema_version")["value"], knocker::SCHEMA_VERSION.to_string());

    // Break an invariant behind Knocker's back: an event whose deliveries are gone.
    let c = raw(&f.path);
    c.execute_batch("DROP TRIGGER knocker_deliveries_delete_only_by_prune").unwrap();
    c.execute("DELETE FROM knocker_deliveries WHERE event_id = ?1", [f.received]).unwrap();
    drop(c);
    let o = run(&f.path, &["doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("FAIL") && s.contains("events_without_delivery") && s.contains("problems found"), "{s}");
    let o = run(&f.path, &["doctor", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["ok"].as_bool(), o.status.code()), (Some(false), Some(1)));
}

#[test]
fn export_then_import_round_trips_and_is_idempotent() {
    let f = fixture();
    let dump = ok(&f.path, &["export"]);
    let lines: Vec<Value> = dump.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["kind"], "header");
    assert_eq!(lines[0]["format"], "knocker-export");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines.iter().filter(|l| l["kind"] == "endpoint").count(), 2);
    assert_eq!(lines.iter().filter(|l| l["kind"] == "event").count(), 4);
    assert_eq!(lines.iter().filter(|l| l["kind"] == "orphan_delivery").count(), 1);
    let handled = lines.iter().find(|l| l["kind"] == "event" && l["status"] == "handled").unwrap();
    assert_eq!(handled["deliveries"][1]["body_b64"], "/wAbQQ==");

    let file = f.dir.join("dump.jsonl");
    let v = json(&f.path, &["export", "--out", file.to_str().unwrap(), "--endpoint", "plain"]);
    assert_eq!((v["events"].as_i64(), v["orphan_deliveries"].as_i64()), (Some(4), Some(0)));
    std::fs::write(&file, &dump).unwrap();

    // Import needs an existing file unless --create.
    let target = f.dir.join("restored.sqlite").to_string_lossy().into_owned();
    let (code, _) = fails(&target, &["import", file.to_str().unwrap()]);
    assert_eq!(code, 7);
    let v = json(&target, &["import", file.to_str().unwrap(), "--create"]);
    assert_eq!(v["events_imported"], 4);
    assert_eq!(v["deliveries_imported"], 5);
    assert_eq!(v["orphans_imported"], 1);
    assert_eq!(v["endpoints_created"], 2);
    let q = "SELECT group_concat(status || ':' || coalesce(dedupe_key, ''), ',') FROM (SELECT status, dedupe_key FROM knocker_events ORDER BY id)";
    let src: String = raw(&f.path).query_row(q, [], |r| r.get(0)).unwrap();
    let dst: String = raw(&target).query_row(q, [], |r| r.get(0)).unwrap();
    assert_eq!(src, dst);
    let body = "SELECT hex(group_concat(hex(body_blob), ',')) FROM (SELECT body_blob FROM knocker_deliveries ORDER BY id)";
    let a: String = raw(&f.path).query_row(body, [], |r| r.get(0)).unwrap();
    let b: String = raw(&target).query_row(body, [], |r| r.get(0)).unwrap();
    assert_eq!(a, b);
    // The imported events read back through the API.
    let v = json(&target, &["events", "show", "1"]);
    assert_eq!(v["event"]["body_text"], r#"{"n":1}"#);

    // Twice: nothing new.
    let v = json(&target, &["import", file.to_str().unwrap()]);
    assert_eq!((v["events_imported"].as_i64(), v["events_skipped"].as_i64()), (Some(0), Some(4)));
    assert_eq!((v["orphans_imported"].as_i64(), v["orphans_skipped"].as_i64()), (Some(0), Some(1)));
    assert_eq!(count(&target, "SELECT count(*) FROM knocker_deliveries"), 6);
    assert_eq!(count(&target, "SELECT count(*) FROM knocker_operator_audits WHERE action = 'import'"), 2);

    // Bad input: not an export, a newer format version.
    let bad = f.dir.join("bad.jsonl");
    std::fs::write(&bad, "hello\n").unwrap();
    let (code, err) = fails(&target, &["import", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.jsonl:1"), "{err}");
    std::fs::write(&bad, r#"{"kind":"header","format":"knocker-export","version":9,"schema_version":2,"exported_at":0}"#).unwrap();
    let (code, err) = fails(&target, &["import", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("version 9 is not supported"), "{err}");
}

#[test]
fn backup_makes_a_consistent_copy() {
    let f = fixture();
    let dest = f.dir.join("backup.sqlite");
    let v = json(&f.path, &["backup", dest.to_str().unwrap()]);
    assert_eq!(v["quick_check"], "ok");
    assert!(v["pages"].as_i64().unwrap() > 0);
    let d = dest.to_str().unwrap();
    assert_eq!(count(d, "SELECT count(*) FROM knocker_events"), 4);
    assert_eq!(count(d, "SELECT count(*) FROM knocker_deliveries"), 6);
    assert_eq!(json(d, &["stats"])["dead"], 2);
    let (code, err) = fails(&f.path, &["backup", d]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn bad_files_get_clear_messages_and_distinct_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Missing: refused, and not created.
    let missing = dir.path().join("nope.sqlite");
    for args in [&["stats"][..], &["events", "list"], &["doctor"], &["requeue", "1"], &["backup", "/tmp/x"]] {
        let (code, err) = fails(missing.to_str().unwrap(), args);
        assert_eq!(code, 7, "{args:?}: {err}");
        assert!(err.contains("no database file"), "{err}");
    }
    assert!(!missing.exists());

    // Not SQLite at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some text, long enough to not be an empty database file........").unwrap();
    let (code, err) = fails(text.to_str().unwrap(), &["stats"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("not a SQLite database"), "{err}");

    // SQLite, but someone else's: refused and left untouched.
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE users (id INTEGER)").unwrap();
    let (code, err) = fails(other.to_str().unwrap(), &["events", "list", "--json"]);
    assert_eq!(code, 5, "{err}");
    let e: Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(e["error"]["code"], "not_knocker_database");
    assert_eq!(count(other.to_str().unwrap(), "SELECT count(*) FROM sqlite_master WHERE name LIKE 'knocker%'"), 0);

    // A newer schema.
    let newer = dir.path().join("newer.sqlite");
    let p = newer.to_string_lossy().into_owned();
    Knocker::open(&p).unwrap().close();
    raw(&p).execute_batch("PRAGMA user_version = 99").unwrap();
    let (code, err) = fails(&p, &["stats"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("newer than this Knocker supports"), "{err}");

    // A directory.
    let (code, _) = fails(dir.path().to_str().unwrap(), &["stats"]);
    assert_eq!(code, 5);
}
