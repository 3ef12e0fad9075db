//! Operator reads and actions: the allowed-state table, typed errors, filters, stats.
mod common;
use std::sync::Arc;

use common::*;
use knocker_core::*;

/// Puts one event into each status and returns (status, id).
fn one_of_each(f: &Fixture) -> Vec<(Status, i64)> {
    f.plain_endpoint("ok");
    f.plain_endpoint("bad");
    f.plain_endpoint("none");
    f.k.handle("ok", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Ok(())));
    f.k.handle("bad", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Err(HandlerError::Failed("x".into()))));
    let handled = f.ingest("ok", b"h", None).event_id.unwrap();
    let failed = f.ingest("bad", b"f", None).event_id.unwrap();
    let dead = f.ingest("none", b"d", None).event_id.unwrap();
    f.k.drain(None).unwrap();
    let ignored = f.ingest("ok", b"i", None).event_id.unwrap();
    f.k.ignore(ignored).unwrap();
    let received = f.ingest("ok", b"r", None).event_id.unwrap();
    let processing = f.ingest("ok", b"p", None).event_id.unwrap();
    // claim only the processing one: it is the newest, so claim in order would pick received first
    let claims = f.k.claim("w", 2).unwrap();
    f.k.release(&claims.iter().filter(|c| c.event_id != processing).cloned().collect::<Vec<_>>()).unwrap();
    let got = vec![
        (Status::Received, received),
        (Status::Processing, processing),
        (Status::Handled, handled),
        (Status::Failed, failed),
        (Status::Dead, dead),
        (Status::Ignored, ignored),
    ];
    for (s, id) in &got {
        assert_eq!(f.k.get_event(*id).unwrap().status, *s, "setup of {s}");
    }
    got
}

#[test]
fn the_allowed_state_table_is_enforced_in_core() {
    type Action = fn(&Knocker, i64) -> Result<()>;
    let table: [(&str, Action, &[Status]); 3] = [
        ("ignore", |k, id| k.ignore(id), &[Status::Received, Status::Failed, Status::Dead, Status::Ignored]),
        ("replay", |k, id| k.replay(id), &[Status::Handled, Status::Failed, Status::Dead, Status::Ignored]),
        ("requeue", |k, id| k.requeue(id), &[Status::Failed, Status::Dead, Status::Ignored]),
    ];
    for (name, action, allowed) in table {
        let f = fixture();
        for (status, id) in one_of_each(&f) {
            let r = action(&f.k, id);
            if allowed.contains(&status) {
                r.unwrap_or_else(|e| panic!("{name} from {status}: {e}"));
                let after = f.k.get_event(id).unwrap();
                let want = if name == "ignore" { Status::Ignored } else { Status::Received };
                assert_eq!(after.status, want, "{name} from {status}");
                if name != "ignore" {
                    assert_eq!(after.attempt_count, 0);
                    assert_eq!(after.last_error, None);
                }
            } else {
                let e = r.unwrap_err();
                assert_eq!(e.code(), "invalid_state", "{name} from {status}");
                assert!(e.to_string().contains(status.as_str()), "{e}");
                assert_eq!(f.k.get_event(id).unwrap().status, status, "unchanged after refused {name}");
            }
        }
    }
}

#[test]
fn unknown_ids_are_not_found() {
    let f = fixture();
    for e in [f.k.ignore(99).unwrap_err(), f.k.replay(99).unwrap_err(), f.k.requeue(99).unwrap_err(), f.k.replay_delivery(99).unwrap_err()] {
        assert_eq!(e.code(), "not_found");
    }
    assert_eq!(f.k.get_event(7).unwrap_err().to_string(), "unknown event id: 7");
    assert_eq!(f.k.get_delivery(7).unwrap_err().to_string(), "unknown delivery id: 7");
    assert_eq!(f.k.list_attempts(7).unwrap_err().code(), "not_found");
}

#[test]
fn ignore_twice_writes_one_attempt_row() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    f.k.ignore(id).unwrap();
    f.k.ignore(id).unwrap();
    assert_eq!(f.k.list_attempts(id).unwrap().len(), 1);
}

#[test]
fn replay_delivery_runs_the_handler_with_that_delivery_and_keeps_the_event_payload() {
    let f = fixture();
    f.plain_endpoint("p");
    let first = f.ingest("p", b"first", Some("k"));
    let second = f.ingest("p", b"second", Some("k"));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    f.k.handle("p", None, Arc::new(move |e: &Event, _: &HandlerTx<'_>| {
        s.lock().unwrap().push(e.body.clone());
        Ok(())
    }));
    f.k.drain(None).unwrap();
    f.k.replay_delivery(second.delivery_id.unwrap()).unwrap();
    let e = f.k.get_event(first.event_id.unwrap()).unwrap();
    assert_eq!((e.status, e.replay_delivery_id), (Status::Received, second.delivery_id));
    f.k.drain(None).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![b"first".to_vec(), b"second".to_vec()]);
    let e = f.k.get_event(first.event_id.unwrap()).unwrap();
    assert_eq!(e.body, b"first", "event payload unchanged");
    let attempts = f.k.list_attempts(e.id).unwrap();
    assert_eq!(attempts[1].delivery_id, second.delivery_id);
    // a plain replay goes back to the canonical payload
    f.k.replay(e.id).unwrap();
    f.k.drain(None).unwrap();
    assert_eq!(seen.lock().unwrap()[2], b"first");
}

#[test]
fn replay_delivery_refuses_orphans_and_busy_events() {
    let f = fixture();
    f.plain_endpoint("p");
    let orphan = f.k.ingest("p", &Receipt::new(b"x"), TrustedOutcome { signature_valid: Some(false), signature_error: Some("bad".into()) }).unwrap();
    let e = f.k.replay_delivery(orphan.delivery_id.unwrap()).unwrap_err();
    assert_eq!(e.code(), "invalid_state");
    assert!(e.to_string().contains("not linked"), "{e}");
    let ok = f.ingest("p", b"y", None);
    let e = f.k.replay_delivery(ok.delivery_id.unwrap()).unwrap_err();
    assert_eq!(e.code(), "invalid_state");
    assert!(e.to_string().contains("received"), "{e}");
}

#[test]
fn list_filters_ordering_and_limits() {
    let f = fixture();
    f.plain_endpoint("a");
    f.plain_endpoint("b");
    for i in 0..105 {
        f.ingest(if i % 2 == 0 { "a" } else { "b" }, b"x", None);
        if i == 50 {
            f.clock.advance_s(100.0);
        }
    }
    let all = f.k.list_events(&EventFilter::default()).unwrap();
    assert_eq!(all.len(), 100);
    assert!(all.windows(2).all(|w| (w[0].received_at, w[0].id) > (w[1].received_at, w[1].id)), "newest first");
    assert_eq!(all[0].id, 105);
    let a = f.k.list_events(&EventFilter { endpoint: Some("a".into()), limit: 1000, ..Default::default() }).unwrap();
    assert_eq!(a.len(), 53);
    let since = f.k.list_events(&EventFilter { since: Some(f.clock.now_s()), limit: 1000, ..Default::default() }).unwrap();
    assert_eq!(since.len(), 54);
    let page2 = f.k.list_events(&EventFilter { before_id: Some(all[99].id), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(page2[0].id, all[99].id - 1);
    let typed = f.k.list_events(&EventFilter { event_type: Some("TEST.EVENT".into()), ..Default::default() }).unwrap();
    assert!(typed.is_empty(), "event_type is case-sensitive");
    let bogus = f.k.list_events(&EventFilter { status: Some("bogus".into()), ..Default::default() }).unwrap();
    assert!(bogus.is_empty());
    for bad in [0, -1, 1001] {
        assert_eq!(f.k.list_events(&EventFilter { limit: bad, ..Default::default() }).unwrap_err().code(), "invalid_argument");
        assert_eq!(f.k.list_deliveries(&DeliveryFilter { limit: bad, ..Default::default() }).unwrap_err().code(), "invalid_argument");
        assert_eq!(f.k.list_prune_audits(&AuditFilter { limit: bad, ..Default::default() }).unwrap_err().code(), "invalid_argument");
    }
}

#[test]
fn delivery_filters_signature_valid_false_matches_invalid_and_unverified() {
    let f = fixture();
    f.plain_endpoint("p");
    let valid = f.k.ingest("p", &Receipt::new(b"1"), TrustedOutcome::valid()).unwrap();
    let unverified = f.k.ingest("p", &Receipt::new(b"2"), TrustedOutcome::default()).unwrap();
    let invalid = f.k.ingest("p", &Receipt::new(b"3"), TrustedOutcome { signature_valid: Some(false), signature_error: Some("no".into()) }).unwrap();
    let ids = |flt: DeliveryFilter| -> Vec<i64> { f.k.list_deliveries(&flt).unwrap().into_iter().map(|d| d.id).collect() };
    assert_eq!(ids(DeliveryFilter { signature_valid: Some(true), ..Default::default() }), vec![valid.delivery_id.unwrap()]);
    assert_eq!(
        ids(DeliveryFilter { signature_valid: Some(false), ..Default::default() }),
        vec![invalid.delivery_id.unwrap(), unverified.delivery_id.unwrap()]
    );
    assert_eq!(ids(DeliveryFilter { orphaned: Some(true), ..Default::default() }), vec![invalid.delivery_id.unwrap()]);
    assert_eq!(ids(DeliveryFilter { orphaned: Some(false), ..Default::default() }).len(), 2);
    assert_eq!(ids(DeliveryFilter { event_id: valid.event_id, ..Default::default() }), vec![valid.delivery_id.unwrap()]);
    assert_eq!(ids(DeliveryFilter { endpoint: Some("p".into()), ..Default::default() }).len(), 3);
}

#[test]
fn stats_counts_by_status_and_endpoint_and_claimable_age() {
    let f = fixture();
    one_of_each(&f);
    f.clock.advance_s(30.0);
    let s = f.k.stats().unwrap();
    for st in ["received", "processing", "handled", "failed", "dead", "ignored"] {
        assert_eq!(s.by_status.get(st), Some(&1), "{st}");
    }
    assert_eq!(s.dead, 1);
    assert_eq!(s.processing, 1);
    assert_eq!(s.claimable, 2, "received now, failed after its 5-10 s backoff");
    assert_eq!(s.oldest_claimable_age_s, Some(30));
    assert_eq!(s.by_endpoint["ok"].get("handled"), Some(&1));
    assert_eq!(s.by_endpoint["none"].get("dead"), Some(&1));
}

#[test]
fn every_operator_mutation_writes_an_audit_row_with_its_actor() {
    let f = fixture();
    one_of_each(&f);
    let ops = f.k.with_actor("cli:alice");
    let dead = f.k.list_events(&EventFilter { status: Some("dead".into()), ..Default::default() }).unwrap()[0].id;
    let handled = f.k.list_events(&EventFilter { status: Some("handled".into()), ..Default::default() }).unwrap()[0].clone();
    ops.requeue(dead).unwrap();
    ops.ignore(dead).unwrap();
    ops.replay(handled.id).unwrap();
    f.k.drain(None).unwrap();
    let d = f.k.list_deliveries(&DeliveryFilter { event_id: Some(handled.id), ..Default::default() }).unwrap()[0].id;
    ops.replay_delivery(d).unwrap();
    f.clock.advance_s(10.0);
    ops.prune_orphan_deliveries(&PruneOrphans { older_than: f.clock.now_s(), limit: 10, dry_run: false }).unwrap();
    ops.prune_events(&PruneEvents { statuses: vec![Status::Ignored], older_than: f.clock.now_s(), limit: 10, dry_run: false }).unwrap();
    ops.prune_events(&PruneEvents { statuses: vec![Status::Ignored], older_than: f.clock.now_s(), limit: 10, dry_run: true }).unwrap();
    let audits = f.k.list_operator_audits(&OperatorAuditFilter::default()).unwrap();
    let actions: Vec<(&str, &str, Vec<i64>)> = audits.iter().rev().map(|a| (a.action.as_str(), a.actor.as_str(), a.ids.clone())).collect();
    // one_of_each() itself ran an ignore as "app"
    assert_eq!(actions[0].0, "ignore");
    assert_eq!(actions[0].1, "app");
    let mine: Vec<&str> = actions.iter().filter(|a| a.1 == "cli:alice").map(|a| a.0).collect();
    assert_eq!(mine, vec!["requeue", "ignore", "replay", "replay_delivery", "prune_orphan_deliveries", "prune_events"], "dry runs are not audited");
    let replay_delivery = audits.iter().find(|a| a.action == "replay_delivery").unwrap();
    assert_eq!((replay_delivery.target_kind.as_str(), replay_delivery.ids.clone()), ("delivery", vec![d]));
    let prune = audits.iter().find(|a| a.action == "prune_events").unwrap();
    assert_eq!(prune.affected, 2, "both ignored events pruned");
    assert!(prune.filters_json.contains("\"ignored\""));
}

#[test]
fn a_refused_action_writes_no_audit_row() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    assert!(f.k.requeue(id).is_err());
    assert!(f.k.list_operator_audits(&OperatorAuditFilter::default()).unwrap().is_empty());
}

#[test]
fn bulk_requeue_by_filter_with_dry_run_first() {
    let f = fixture();
    f.plain_endpoint("stripe");
    f.plain_endpoint("other");
    let ids: Vec<i64> = (0..5).map(|i| f.ingest("stripe", format!("{i}").as_bytes(), None).event_id.unwrap()).collect();
    let other = f.ingest("other", b"o", None).event_id.unwrap();
    f.k.drain(None).unwrap(); // no handlers: all dead
    let flt = EventFilter { status: Some("dead".into()), endpoint: Some("stripe".into()), limit: 3, ..Default::default() };
    let preview = f.k.bulk(BulkAction::Requeue, &flt, true).unwrap();
    assert_eq!(preview.ids, ids[..3].to_vec(), "oldest first, bounded by limit");
    assert_eq!(f.k.get_event(ids[0]).unwrap().status, Status::Dead, "dry run changed nothing");
    let ops = f.k.with_actor("cli:bob");
    let done = ops.bulk(BulkAction::Requeue, &flt, false).unwrap();
    assert_eq!(done.ids, ids[..3].to_vec());
    let rest = ops.bulk(BulkAction::Requeue, &flt, false).unwrap();
    assert_eq!(rest.ids, ids[3..].to_vec());
    assert!(ops.bulk(BulkAction::Requeue, &flt, false).unwrap().ids.is_empty());
    for id in &ids {
        assert_eq!(f.k.get_event(*id).unwrap().status, Status::Received);
    }
    assert_eq!(f.k.get_event(other).unwrap().status, Status::Dead, "other endpoint untouched");
    let audits = f.k.list_operator_audits(&OperatorAuditFilter { action: Some("bulk_requeue".into()), ..Default::default() }).unwrap();
    assert_eq!(audits.len(), 3);
    assert_eq!(audits[2].ids, ids[..3].to_vec());
    assert!(audits[2].filters_json.contains("\"stripe\""));
    let e = f.k.bulk(BulkAction::Requeue, &EventFilter { status: Some("handled".into()), ..Default::default() }, false).unwrap_err();
    assert_eq!(e.code(), "invalid_state");
}
