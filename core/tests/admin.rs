//! Operator administration in core: open_existing refusals, bulk_all caps, prune loops,
//! export/import round trip and idempotency, backup, doctor.

mod common;

use common::*;
use knocker_core::*;

#[test]
fn open_existing_never_creates_or_touches_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite").to_string_lossy().into_owned();
    assert_eq!(Knocker::open_existing(&missing, Options::default()).unwrap_err().code(), "database_missing");
    assert!(!std::path::Path::new(&missing).exists());

    let foreign = dir.path().join("app.sqlite").to_string_lossy().into_owned();
    rusqlite::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    assert_eq!(Knocker::open_existing(&foreign, Options::default()).unwrap_err().code(), "not_knocker_database");
    let n: i64 = rusqlite::Connection::open(&foreign)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "no Knocker tables were added");

    let f = fixture();
    f.raw().execute_batch("PRAGMA user_version = 42").unwrap();
    assert_eq!(Knocker::open_existing(&f.path, Options::default()).unwrap_err().code(), "schema_too_new");
}

#[test]
fn bulk_all_works_through_batches_and_is_capped() {
    let f = fixture();
    f.plain_endpoint("p");
    for i in 0..7 {
        let r = f.ingest("p", b"{}", Some(&format!("k{i}")));
        f.k.ignore(r.event_id.unwrap()).unwrap();
    }
    let flt = EventFilter { status: Some("ignored".into()), limit: 3, ..Default::default() };
    assert_eq!(f.k.bulk_count(BulkAction::Requeue, &flt).unwrap(), 7);
    let mut batches = Vec::new();
    let r = f.k.bulk_all(BulkAction::Requeue, &flt, Some(5), |b| batches.push(b.len())).unwrap();
    assert_eq!((r.ids.len(), batches), (5, vec![3, 2]));
    let r = f.k.bulk_all(BulkAction::Requeue, &flt, None, |_| {}).unwrap();
    assert_eq!(r.ids.len(), 2);
    assert_eq!(f.count("SELECT count(*) FROM knocker_operator_audits WHERE action = 'bulk_requeue'"), 3);
    assert_eq!(f.k.bulk_count(BulkAction::Requeue, &flt).unwrap(), 0);
    let e = f.k.bulk_count(BulkAction::Requeue, &EventFilter { status: Some("handled".into()), ..Default::default() });
    assert_eq!(e.unwrap_err().code(), "invalid_state");
}

#[test]
fn prune_loops_until_done() {
    let f = fixture();
    f.plain_endpoint("p");
    for i in 0..5 {
        let r = f.ingest("p", b"{}", Some(&format!("k{i}")));
        f.k.ignore(r.event_id.unwrap()).unwrap();
    }
    let p = PruneEvents { statuses: vec![Status::Ignored], older_than: f.clock.now_s() + 1, limit: 2, dry_run: false };
    let mut passes = 0;
    let r = f.k.prune_events_all(&p, 100, |_| passes += 1).unwrap();
    assert_eq!((r.events_pruned, passes), (5, 3));
    assert_eq!(f.count("SELECT count(*) FROM knocker_prune_audits"), 3);
}

#[test]
fn export_import_round_trip_is_idempotent() {
    let f = fixture();
    f.plain_endpoint("p");
    f.ingest("p", b"with key", Some("k1"));
    f.ingest("p", &[0, 159, 146, 150], None);
    let mut lines = Vec::new();
    f.k.export(&ExportFilter::default(), |r| {
        lines.push(r.to_line());
        Ok(())
    })
    .unwrap();
    assert_eq!(f.k.export_count(&ExportFilter::default()).unwrap(), (2, 0));
    assert_eq!(lines.len(), 4, "header, endpoint, two events");
    let records: Vec<ExportRecord> = lines.iter().map(|l| ExportRecord::parse_line(l).unwrap()).collect();
    assert!(matches!(&records[0], ExportRecord::Header(h) if h.version == EXPORT_VERSION));

    let dir = tempfile::tempdir().unwrap();
    let target = Knocker::open(&dir.path().join("t.sqlite").to_string_lossy()).unwrap().with_actor("restore");
    let r = target.import_records(&records).unwrap();
    assert_eq!((r.endpoints_created, r.events_imported, r.deliveries_imported), (1, 2, 2));
    let again = target.import_records(&records).unwrap();
    assert_eq!((again.events_imported, again.events_skipped), (0, 2));
    let events = target.list_events(&EventFilter::default()).unwrap();
    assert_eq!(events[0].body, vec![0, 159, 146, 150]);
    assert_eq!(events[1].body, b"with key");
    let audits = target.list_operator_audits(&OperatorAuditFilter { action: Some("import".into()), ..Default::default() }).unwrap();
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0].actor, "restore");

    let newer = lines[0].replace("\"version\":1", "\"version\":2");
    assert_eq!(ExportRecord::parse_line(&newer).unwrap_err().code(), "invalid_argument");
}

#[test]
fn export_import_carries_attempts_and_traceparent() {
    let f = fixture();
    f.plain_endpoint("p");
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut receipt = Receipt::new(b"{\"n\":1}");
    receipt.dedupe_key = Some("evt_1".into());
    let receipt = receipt.header("traceparent", tp);
    let r = f.k.receive("p", &receipt).unwrap();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = calls.clone();
    f.k.handle("p", None, std::sync::Arc::new(move |_: &Event, _: &HandlerTx<'_>| {
        if c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Err(HandlerError::Failed("downstream 503".into()))
        } else {
            Ok(())
        }
    }));
    assert_eq!(f.k.drain(None).unwrap(), 1);
    f.clock.advance_s(1000.0);
    assert_eq!(f.k.drain(None).unwrap(), 1);
    let source = f.k.list_attempts(r.event_id.unwrap()).unwrap();
    assert_eq!(source.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(), ["failed", "handled"]);

    let mut records = Vec::new();
    f.k.export(&ExportFilter::default(), |r| {
        records.push(r);
        Ok(())
    })
    .unwrap();
    let ExportRecord::Event(exported) = &records[2] else { panic!("third record is the event: {:?}", records[2]) };
    assert_eq!(exported.attempts.len(), 2);
    assert_eq!(exported.deliveries[0].traceparent.as_deref(), Some(tp));

    let dir = tempfile::tempdir().unwrap();
    let target = Knocker::open(&dir.path().join("t.sqlite").to_string_lossy()).unwrap();
    let result = target.import_records(&records).unwrap();
    assert_eq!((result.events_imported, result.attempts_imported), (1, 2));
    let id = result.event_ids[0];
    let imported = target.list_attempts(id).unwrap();
    let strip = |a: &Attempt| (a.attempt_no, a.worker_id.clone(), a.started_at_ms, a.finished_at_ms, a.outcome.clone(), a.error.clone());
    assert_eq!(imported.iter().map(strip).collect::<Vec<_>>(), source.iter().map(strip).collect::<Vec<_>>());
    assert_eq!(imported[0].error.as_deref(), Some("downstream 503"));
    assert!(imported.iter().all(|a| a.event_id == id));
    assert_eq!(target.get_event(id).unwrap().traceparent.as_deref(), Some(tp));
    // Importing again adds no attempts (the event is skipped).
    assert_eq!(target.import_records(&records).unwrap().attempts_imported, 0);
    assert_eq!(target.list_attempts(id).unwrap().len(), 2);

    // Exports written before attempts and traceparent were added still import.
    let mut old: serde_json::Value = serde_json::from_str(&records[2].to_line()).unwrap();
    old.as_object_mut().unwrap().remove("attempts");
    old["deliveries"][0].as_object_mut().unwrap().remove("traceparent");
    old["dedupe_key"] = "evt_old".into();
    let old = ExportRecord::parse_line(&old.to_string()).unwrap();
    let ExportRecord::Event(e) = &old else { panic!("an event record") };
    assert!(e.attempts.is_empty() && e.deliveries[0].traceparent.is_none());
    assert_eq!(target.import_records(&[records[0].clone(), old]).unwrap().events_imported, 1);

    // An unknown attempt outcome refuses the whole import: nothing of it is stored.
    let mut bad = records.clone();
    let ExportRecord::Event(e) = &mut bad[2] else { unreachable!() };
    e.dedupe_key = Some("evt_bad".into());
    e.attempts[1].outcome = "exploded".into();
    let fresh_path = dir.path().join("fresh.sqlite").to_string_lossy().into_owned();
    let fresh = Knocker::open(&fresh_path).unwrap();
    assert_eq!(fresh.import_records(&bad).unwrap_err().code(), "invalid_argument");
    let raw = rusqlite::Connection::open(&fresh_path).unwrap();
    for table in ["knocker_endpoints", "knocker_events", "knocker_deliveries", "knocker_attempts", "knocker_operator_audits"] {
        let n: i64 = raw.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "{table} has rows from a refused import");
    }
}

#[test]
fn backup_and_doctor() {
    let f = fixture();
    f.plain_endpoint("p");
    f.ingest("p", b"{}", Some("k"));
    let dest = f.dir.path().join("copy.sqlite").to_string_lossy().into_owned();
    let mut steps = 0;
    f.k.backup(&dest, |_, _| steps += 1).unwrap();
    assert!(steps >= 1);
    let copy = Knocker::open_existing(&dest, Options::default()).unwrap();
    assert_eq!(copy.list_events(&EventFilter::default()).unwrap().len(), 1);
    assert_eq!(f.k.backup(&dest, |_, _| {}).unwrap_err().code(), "invalid_argument");
    let report = f.k.doctor().unwrap();
    assert_eq!(report.worst(), CheckLevel::Info);
    assert!(report.checks.iter().any(|c| c.name == "quick_check" && c.value == "ok"));
}
