//! Worker: the handler transaction, retries with backoff, dead-lettering, leases.
mod common;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use knocker_core::*;

fn business_table(f: &Fixture) {
    f.raw().execute_batch("CREATE TABLE orders (event_id INTEGER PRIMARY KEY, body BLOB)").unwrap();
}

fn writes_order() -> Arc<dyn Handler> {
    Arc::new(|e: &Event, tx: &HandlerTx<'_>| {
        tx.execute("INSERT INTO orders (event_id, body) VALUES (?1, ?2)", &[SqlValue::Integer(e.id), SqlValue::Blob(e.body.clone())])?;
        Ok(())
    })
}

fn attempts(f: &Fixture, id: i64) -> Vec<String> {
    f.k.list_attempts(id).unwrap().into_iter().map(|a| a.outcome).collect()
}

#[test]
fn handler_writes_commit_with_the_handled_transition() {
    let f = fixture();
    f.plain_endpoint("p");
    business_table(&f);
    let id = f.ingest("p", b"order-1", Some("k")).event_id.unwrap();
    f.k.handle("p", None, writes_order());
    assert_eq!(f.k.drain(None).unwrap(), 1);
    let e = f.k.get_event(id).unwrap();
    assert_eq!(e.status, Status::Handled);
    assert_eq!(e.handled_at, Some(f.clock.now_s()));
    assert_eq!(f.count("SELECT count(*) FROM orders"), 1);
    assert_eq!(attempts(&f, id), vec!["handled"]);
    let a = &f.k.list_attempts(id).unwrap()[0];
    assert_eq!(a.attempt_no, 1);
    assert!(a.worker_id.as_deref().unwrap().starts_with("knocker-drain-"));
}

#[test]
fn handler_sees_processing_status_and_current_attempt_number() {
    let f = fixture();
    f.plain_endpoint("p");
    f.ingest("p", b"x", None);
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    f.k.handle("p", None, Arc::new(move |e: &Event, _: &HandlerTx<'_>| {
        *s2.lock().unwrap() = Some((e.status, e.attempt_count));
        Ok(())
    }));
    f.k.drain(None).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some((Status::Processing, 1)));
}

#[test]
fn handler_error_rolls_back_business_writes_then_retries_with_backoff_then_dead() {
    let f = fixture();
    f.plain_endpoint("p");
    business_table(&f);
    let id = f.ingest("p", b"x", Some("k")).event_id.unwrap();
    f.k.handle("p", None, Arc::new(|e: &Event, tx: &HandlerTx<'_>| {
        tx.execute("INSERT INTO orders (event_id) VALUES (?1)", &[SqlValue::Integer(e.id)])?;
        Err(HandlerError::Failed("downstream 503".into()))
    }));
    assert_eq!(f.k.drain(None).unwrap(), 1);
    let e = f.k.get_event(id).unwrap();
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.last_error.as_deref(), Some("downstream 503"));
    assert_eq!(f.count("SELECT count(*) FROM orders"), 0, "business write rolled back");
    // backoff: attempt 1 → delay in [5, 10] s with base 10
    let delay = e.run_at_ms - T0_MS;
    assert!((5_000..=10_000).contains(&delay), "delay {delay}");
    assert_eq!(f.k.drain(None).unwrap(), 0, "not due yet");
    f.clock.advance_s(10.0);
    assert_eq!(f.k.drain(None).unwrap(), 1);
    let e = f.k.get_event(id).unwrap();
    let delay2 = e.run_at_ms - f.clock.0.load(Ordering::SeqCst);
    assert!((10_000..=20_000).contains(&delay2), "second delay {delay2}");
    f.clock.advance_s(20.0);
    assert_eq!(f.k.drain(None).unwrap(), 1);
    let e = f.k.get_event(id).unwrap();
    assert_eq!(e.status, Status::Dead);
    assert_eq!(e.attempt_count, 3);
    assert_eq!(attempts(&f, id), vec!["failed", "failed", "dead"]);
    assert_eq!(f.count("SELECT count(*) FROM orders"), 0);
}

#[test]
fn retry_after_and_discard_signals() {
    let f = fixture();
    f.plain_endpoint("later");
    f.plain_endpoint("never");
    let a = f.ingest("later", b"x", None).event_id.unwrap();
    let b = f.ingest("never", b"y", None).event_id.unwrap();
    f.k.handle("later", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Err(HandlerError::RetryAfter { after_s: 42.0, reason: "rate limited".into() })));
    f.k.handle("never", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Err(HandlerError::Discard("bad payload".into()))));
    f.k.drain(None).unwrap();
    let ea = f.k.get_event(a).unwrap();
    assert_eq!((ea.status, ea.run_at_ms - T0_MS), (Status::Failed, 42_000));
    let eb = f.k.get_event(b).unwrap();
    assert_eq!((eb.status, eb.last_error.as_deref()), (Status::Dead, Some("bad payload")));
    assert_eq!(eb.attempt_count, 1);
}

#[test]
fn missing_handler_is_dead_with_a_clear_error() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    f.k.drain(None).unwrap();
    let e = f.k.get_event(id).unwrap();
    assert_eq!(e.status, Status::Dead);
    assert!(e.last_error.unwrap().contains("no handler registered for endpoint=\"p\" event_type=Some(\"test.event\")"));
    assert_eq!(attempts(&f, id), vec!["dead"]);
}

#[test]
fn handler_lookup_prefers_event_type_then_endpoint_wide() {
    let f = fixture();
    f.plain_endpoint("p");
    let hits = Arc::new(Mutex::new(Vec::new()));
    for (ty, tag) in [(Some("test.event"), "typed"), (None, "wide")] {
        let h = hits.clone();
        f.k.handle("p", ty, Arc::new(move |_: &Event, _: &HandlerTx<'_>| {
            h.lock().unwrap().push(tag);
            Ok(())
        }));
    }
    f.ingest("p", b"1", None);
    let r = Receipt { event_type: Some("other".into()), ..Receipt::new(b"2") };
    f.k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    f.k.drain(None).unwrap();
    assert_eq!(*hits.lock().unwrap(), vec!["typed", "wide"]);
}

#[test]
fn a_panicking_handler_is_a_failure_not_a_crash() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    f.k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| panic!("oops")));
    f.k.drain(None).unwrap();
    let e = f.k.get_event(id).unwrap();
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.last_error.as_deref(), Some("handler panicked: oops"));
}

#[test]
fn a_stale_worker_cannot_commit_after_its_lease_was_reclaimed() {
    let f = fixture();
    f.plain_endpoint("p");
    business_table(&f);
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    let stale = f.k.claim("worker-a", 1).unwrap().remove(0);
    f.clock.advance_s(61.0); // past the 60 s visibility timeout
    let fresh = f.k.claim("worker-b", 1).unwrap().remove(0);
    assert_eq!(fresh.event_id, id);
    assert_eq!(fresh.attempt_no, 2);
    f.k.handle("p", None, writes_order());
    assert_eq!(f.k.process(&stale, "worker-a").unwrap(), Outcome::Skipped);
    assert_eq!(f.count("SELECT count(*) FROM orders"), 0, "stale worker committed nothing");
    assert_eq!(f.k.process(&fresh, "worker-b").unwrap(), Outcome::Handled);
    assert_eq!(f.count("SELECT count(*) FROM orders"), 1);
    assert_eq!(attempts(&f, id), vec!["lost", "handled"]);
}

#[test]
fn a_lost_final_attempt_dead_letters_instead_of_looping() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    for _ in 0..3 {
        assert_eq!(f.k.claim("crashy", 1).unwrap().len(), 1);
        f.clock.advance_s(61.0);
    }
    assert!(f.k.claim("next", 1).unwrap().is_empty());
    let e = f.k.get_event(id).unwrap();
    assert_eq!(e.status, Status::Dead);
    assert!(e.last_error.unwrap().contains("lease expired"));
    assert_eq!(attempts(&f, id), vec!["lost", "lost", "lost"]);
}

#[test]
fn expired_claim_is_reclaimed_after_reopen_and_drained() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    f.k.claim("dies", 1).unwrap();
    f.k.close();
    f.clock.advance_s(61.0);
    let k2 = f.reopen();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    k2.handle("p", None, Arc::new(move |_: &Event, _: &HandlerTx<'_>| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }));
    assert_eq!(k2.drain(None).unwrap(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(k2.get_event(id).unwrap().status, Status::Handled);
}

#[test]
fn release_gives_claims_back_unchanged() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    let c = f.k.claim("w", 4).unwrap();
    assert_eq!(f.k.get_event(id).unwrap().status, Status::Processing);
    f.k.release(&c).unwrap();
    let e = f.k.get_event(id).unwrap();
    assert_eq!((e.status, e.attempt_count), (Status::Received, 0));
}

#[test]
fn ignored_events_are_never_handled() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    f.k.ignore(id).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    f.k.handle("p", None, Arc::new(move |_: &Event, _: &HandlerTx<'_>| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }));
    assert_eq!(f.k.drain(None).unwrap(), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn drain_respects_max_events() {
    let f = fixture();
    f.plain_endpoint("p");
    for i in 0..5 {
        f.ingest("p", format!("{i}").as_bytes(), None);
    }
    f.k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Ok(())));
    assert_eq!(f.k.drain(Some(2)).unwrap(), 2);
    assert_eq!(f.k.drain(None).unwrap(), 3);
}

#[test]
fn async_style_complete_settles_outside_the_transaction() {
    let f = fixture();
    f.plain_endpoint("p");
    let id = f.ingest("p", b"x", None).event_id.unwrap();
    let c = f.k.claim("w", 1).unwrap().remove(0);
    let e = f.k.claimed_event(&c).unwrap().unwrap();
    assert_eq!(e.id, id);
    assert_eq!(f.k.complete(&c, "w", T0_MS, Err(HandlerError::Failed("nope".into()))).unwrap(), Outcome::Failed { error: "nope".into(), run_at_ms: f.k.get_event(id).unwrap().run_at_ms });
    f.clock.advance_s(100.0);
    let c = f.k.claim("w", 1).unwrap().remove(0);
    assert_eq!(f.k.complete(&c, "w", T0_MS, Ok(())).unwrap(), Outcome::Handled);
    assert_eq!(f.k.complete(&c, "w", T0_MS, Ok(())).unwrap(), Outcome::Skipped, "a settled claim cannot settle twice");
    assert_eq!(attempts(&f, id), vec!["failed", "handled"]);
}

#[test]
fn run_worker_wakes_on_ingest_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    k.handle("p", None, Arc::new(move |_: &Event, _: &HandlerTx<'_>| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }));
    let stop = StopSignal::new();
    let opts = WorkerOptions { worker_id: Some("w1".into()), idle_poll: Duration::from_secs(30), claim_batch: None };
    let (k2, s2) = (k.clone(), stop.clone());
    let t = std::thread::spawn(move || k2.run_worker(&opts, &s2, |_| {}));
    std::thread::sleep(Duration::from_millis(100));
    assert!(k.worker_states()[0].running);
    let started = std::time::Instant::now();
    let id = k.ingest("p", &Receipt::new(b"x"), TrustedOutcome::valid()).unwrap().event_id.unwrap();
    while k.get_event(id).unwrap().status != Status::Handled {
        assert!(started.elapsed() < Duration::from_secs(5), "in-process wake-up did not happen");
        std::thread::sleep(Duration::from_millis(5));
    }
    // woken by notification, not by the 30 s poll
    assert!(started.elapsed() < Duration::from_secs(2));
    stop.set();
    t.join().unwrap().unwrap();
    let st = &k.worker_states()[0];
    assert_eq!((st.worker_id.as_str(), st.running, st.processed), ("w1", false, 1));
}

#[test]
fn stop_finishes_the_in_flight_handler_and_releases_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    for i in 0..4 {
        k.ingest("p", &Receipt::new(format!("{i}").as_bytes()), TrustedOutcome::valid()).unwrap();
    }
    let stop = StopSignal::new();
    let s = stop.clone();
    k.handle("p", None, Arc::new(move |_: &Event, _: &HandlerTx<'_>| {
        s.set(); // stop requested while the first handler runs
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }));
    k.run_worker(&WorkerOptions::default(), &stop, |_| {}).unwrap();
    let st = k.stats().unwrap();
    assert_eq!(st.by_status.get("handled"), Some(&1));
    assert_eq!(st.by_status.get("received"), Some(&3), "unstarted claims released");
    assert_eq!(st.processing, 0);
}

#[test]
fn a_batch_commits_once_and_a_failing_handler_rolls_back_only_its_own_writes() {
    let f = fixture();
    f.plain_endpoint("p");
    business_table(&f);
    let ids: Vec<i64> = (0..6).map(|i| f.ingest("p", format!("{i}").as_bytes(), None).event_id.unwrap()).collect();
    f.k.handle("p", None, Arc::new(|e: &Event, tx: &HandlerTx<'_>| {
        tx.execute("INSERT INTO orders (event_id, body) VALUES (?1, ?2)", &[SqlValue::Integer(e.id), SqlValue::Blob(e.body.clone())])?;
        if e.body == b"3" {
            return Err(HandlerError::Failed("bad order".into()));
        }
        Ok(())
    }));
    let claims = f.k.claim("w", 6).unwrap();
    let outcomes = f.k.process_batch(&claims, "w", None, &|| false).unwrap();
    assert_eq!(outcomes.len(), 6, "the fixture's batch time bound is a minute, so the batch stays whole");
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Handled).count(), 5);
    assert!(matches!(outcomes[3], Outcome::Failed { .. }));
    assert_eq!(f.count("SELECT count(*) FROM orders"), 5, "the failing handler's write rolled back alone");
    assert_eq!(f.count("SELECT count(*) FROM orders WHERE event_id = 4"), 0);
    assert_eq!(f.k.get_event(ids[3]).unwrap().status, Status::Failed);
    assert_eq!(attempts(&f, ids[3]), vec!["failed"]);
    assert_eq!(attempts(&f, ids[0]), vec!["handled"]);
}

#[test]
fn a_batch_stops_early_when_asked_and_leaves_the_rest_claimed() {
    let f = fixture();
    f.plain_endpoint("p");
    for i in 0..4 {
        f.ingest("p", format!("{i}").as_bytes(), None);
    }
    f.k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Ok(())));
    let claims = f.k.claim("w", 4).unwrap();
    let outcomes = f.k.process_batch(&claims, "w", None, &|| true).unwrap();
    assert_eq!(outcomes, vec![Outcome::Handled], "one handler always runs, then the stop is honoured");
    f.k.release(&claims[1..]).unwrap();
    assert_eq!(f.k.stats().unwrap().by_status.get("received"), Some(&3));
}

#[test]
fn one_commit_per_event_when_handler_batch_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open_with(&path, Options { handler_batch: 1, ..Options::default() }).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    for i in 0..3 {
        k.ingest("p", &Receipt::new(format!("{i}").as_bytes()), TrustedOutcome::valid()).unwrap();
    }
    k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Ok(())));
    assert_eq!(k.drain(None).unwrap(), 3);
    assert_eq!(Knocker::open_with(&path, Options { handler_batch: 0, ..Options::default() }).unwrap_err().code(), "invalid_argument");
}
