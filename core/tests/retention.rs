//! Retention: bounded prunes with cascades, dry runs, audit rows, the cross-process lease.
mod common;
use std::sync::Arc;

use common::*;
use knocker_core::*;

fn handled_events(f: &Fixture, n: usize) -> Vec<i64> {
    f.plain_endpoint("p");
    f.k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Ok(())));
    let ids: Vec<i64> = (0..n).map(|i| f.ingest("p", format!("{i}").as_bytes(), Some(&format!("k{i}"))).event_id.unwrap()).collect();
    // a duplicate delivery for the first event: pruning must take both deliveries
    f.ingest("p", b"dup", Some("k0"));
    f.k.drain(None).unwrap();
    ids
}

#[test]
fn prune_events_cascades_and_writes_one_audit_row_in_the_same_transaction() {
    let f = fixture();
    let ids = handled_events(&f, 3);
    f.clock.advance_s(10.0);
    let r = f.k.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: f.clock.now_s(), limit: 2, dry_run: false }).unwrap();
    assert_eq!(r, PruneEventsResult { events_pruned: 2, deliveries_pruned: 3, attempts_pruned: 2, dry_run: false });
    assert_eq!(f.k.get_event(ids[0]).unwrap_err().code(), "not_found", "oldest first");
    assert!(f.k.get_event(ids[2]).is_ok());
    assert_eq!(f.count("SELECT count(*) FROM knocker_attempts"), 1);
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 1);
    let audits = f.k.list_prune_audits(&AuditFilter::default()).unwrap();
    assert_eq!(audits.len(), 1);
    let a = &audits[0];
    assert_eq!((a.kind.as_str(), a.events_pruned, a.deliveries_pruned, a.attempts_pruned), ("prune_events", Some(2), 3, Some(2)));
    let summary: serde_json::Value = serde_json::from_str(&a.summary_json).unwrap();
    assert_eq!(summary["statuses"], serde_json::json!(["handled"]));
    assert_eq!(summary["limit"], 2);
}

#[test]
fn older_than_is_strict() {
    let f = fixture();
    handled_events(&f, 1);
    let r = f.k.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: f.clock.now_s(), limit: 10, dry_run: false }).unwrap();
    assert_eq!(r.events_pruned, 0);
}

#[test]
fn a_zero_row_prune_still_writes_its_audit_row_and_dry_run_writes_none() {
    let f = fixture();
    let ids = handled_events(&f, 2);
    f.clock.advance_s(5.0);
    let dry = f.k.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: f.clock.now_s(), limit: 10, dry_run: true }).unwrap();
    assert_eq!((dry.events_pruned, dry.deliveries_pruned, dry.dry_run), (2, 3, true));
    assert!(f.k.get_event(ids[0]).is_ok(), "dry run deletes nothing");
    assert!(f.k.list_prune_audits(&AuditFilter::default()).unwrap().is_empty(), "dry run writes no audit");
    let none = f.k.prune_events(&PruneEvents { statuses: vec![Status::Dead], older_than: f.clock.now_s(), limit: 10, dry_run: false }).unwrap();
    assert_eq!(none.events_pruned, 0);
    let audits = f.k.list_prune_audits(&AuditFilter::default()).unwrap();
    assert_eq!((audits.len(), audits[0].events_pruned, audits[0].deliveries_pruned), (1, Some(0), 0));
}

#[test]
fn prune_arguments_are_validated() {
    let f = fixture();
    let bad = [
        PruneEvents { statuses: vec![], older_than: 1, limit: 1, dry_run: false },
        PruneEvents { statuses: vec![Status::Received], older_than: 1, limit: 1, dry_run: false },
        PruneEvents { statuses: vec![Status::Failed], older_than: 1, limit: 1, dry_run: false },
        PruneEvents { statuses: vec![Status::Handled], older_than: -1, limit: 1, dry_run: false },
        PruneEvents { statuses: vec![Status::Handled], older_than: 1, limit: 0, dry_run: false },
        PruneEvents { statuses: vec![Status::Handled], older_than: 1, limit: 1001, dry_run: false },
    ];
    for p in bad {
        assert_eq!(f.k.prune_events(&p).unwrap_err().code(), "invalid_argument", "{p:?}");
    }
    assert_eq!(f.k.prune_orphan_deliveries(&PruneOrphans { older_than: -5, limit: 1, dry_run: false }).unwrap_err().code(), "invalid_argument");
}

#[test]
fn prune_orphans_takes_only_orphans() {
    let f = fixture();
    f.plain_endpoint("p");
    let bad = TrustedOutcome { signature_valid: Some(false), signature_error: Some("forged".into()) };
    let orphan = f.k.ingest("p", &Receipt::new(b"o"), bad).unwrap();
    let linked = f.ingest("p", b"l", None);
    f.clock.advance_s(1.0);
    let r = f.k.prune_orphan_deliveries(&PruneOrphans { older_than: f.clock.now_s(), limit: 10, dry_run: false }).unwrap();
    assert_eq!(r.deliveries_pruned, 1);
    assert_eq!(f.k.get_delivery(orphan.delivery_id.unwrap()).unwrap_err().code(), "not_found");
    assert!(f.k.get_delivery(linked.delivery_id.unwrap()).is_ok());
    let a = &f.k.list_prune_audits(&AuditFilter { kind: Some("prune_orphan_deliveries".into()), ..Default::default() }).unwrap()[0];
    assert_eq!((a.events_pruned, a.deliveries_pruned, a.attempts_pruned), (None, 1, None));
}

#[test]
fn a_failing_prune_rolls_back_its_audit_row_too() {
    let f = fixture();
    handled_events(&f, 1);
    f.raw()
        .execute_batch("CREATE TRIGGER block BEFORE DELETE ON knocker_events BEGIN SELECT RAISE(ABORT, 'blocked'); END;")
        .unwrap();
    f.clock.advance_s(1.0);
    let e = f.k.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: f.clock.now_s(), limit: 10, dry_run: false });
    assert!(e.is_err());
    assert_eq!(f.count("SELECT count(*) FROM knocker_prune_audits"), 0);
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 2, "delivery deletes rolled back");
    assert_eq!(f.count("SELECT count(*) FROM knocker_prune_guard"), 0);
}

#[test]
fn retention_never_runs_two_passes_for_one_interval_across_handles() {
    let f = fixture();
    handled_events(&f, 2);
    let other = f.reopen();
    f.clock.advance_s(100.0);
    let policy = RetentionPolicy { interval_s: 60.0, event_older_than_s: Some(10), orphan_deliveries_older_than_s: Some(10), ..Default::default() };
    let a = f.k.run_retention_pass(&policy, "proc-a").unwrap();
    let b = other.run_retention_pass(&policy, "proc-b").unwrap();
    assert!(a.ran);
    assert_eq!(a.events.unwrap().events_pruned, 2);
    assert!(!b.ran, "second process skipped while the lease is held");
    assert_eq!(f.count("SELECT count(*) FROM knocker_prune_audits"), 2, "one audit per path");
    f.clock.advance_s(61.0);
    assert!(other.run_retention_pass(&policy, "proc-b").unwrap().ran, "lease expired, other process runs");
}

#[test]
fn retention_policy_validation() {
    let bad = [
        RetentionPolicy { interval_s: 0.0, event_older_than_s: Some(1), ..Default::default() },
        RetentionPolicy::default(),
        RetentionPolicy { event_older_than_s: Some(-1), ..Default::default() },
        RetentionPolicy { event_older_than_s: Some(1), event_limit: 0, ..Default::default() },
    ];
    for p in bad {
        assert_eq!(Knocker::validate_retention(&p).unwrap_err().code(), "invalid_argument", "{p:?}");
    }
}

#[test]
fn run_retention_stops_on_signal() {
    let f = fixture();
    let stop = StopSignal::new();
    let policy = RetentionPolicy { interval_s: 0.05, orphan_deliveries_older_than_s: Some(0), ..Default::default() };
    let (k, s) = (f.k.clone(), stop.clone());
    let t = std::thread::spawn(move || k.run_retention(&policy, &s, |_| {}));
    std::thread::sleep(std::time::Duration::from_millis(50));
    stop.set();
    t.join().unwrap().unwrap();
    assert!(f.count("SELECT count(*) FROM knocker_prune_audits") >= 1);
}

#[test]
fn pruned_ids_are_never_handed_out_again() {
    let f = fixture();
    let ids = handled_events(&f, 3);
    let last_delivery: i64 = f.count("SELECT max(id) FROM knocker_deliveries");
    // An orphan delivery (the newest delivery), pruned below together with every event.
    let orphan = f.k.ingest("p", &Receipt::new(b"x"), TrustedOutcome { signature_valid: Some(false), signature_error: Some("bad signature".into()) }).unwrap();
    assert_eq!(orphan.delivery_id, Some(last_delivery + 1));
    f.clock.advance_s(10.0);
    let r = f.k.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: f.clock.now_s(), limit: 100, dry_run: false }).unwrap();
    assert_eq!(r.events_pruned, 3);
    let o = f.k.prune_orphan_deliveries(&PruneOrphans { older_than: f.clock.now_s(), limit: 100, dry_run: false }).unwrap();
    assert_eq!(o.deliveries_pruned, 1);
    assert_eq!(f.count("SELECT count(*) FROM knocker_events") + f.count("SELECT count(*) FROM knocker_deliveries"), 0);
    // Without a floor SQLite would number from 1 again.
    let a = f.ingest("p", b"after", Some("after-1"));
    assert_eq!(a.event_id, Some(ids[2] + 1));
    assert_eq!(a.delivery_id, Some(last_delivery + 2));
    // Rows have passed the floors now: the next write transaction drops them.
    assert_eq!(f.count("SELECT count(*) FROM knocker_id_floors"), 2);
    let b = f.ingest("p", b"after", Some("after-2"));
    assert_eq!((b.event_id, b.delivery_id), (Some(ids[2] + 2), Some(last_delivery + 3)));
    assert_eq!(f.count("SELECT count(*) FROM knocker_id_floors"), 0);
}
