//! Group commit: concurrent receipts share transactions without weakening any invariant.
mod common;
use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use common::*;
use knocker_core::*;

#[test]
fn sixteen_threads_with_overlapping_identities_store_every_receipt_once_per_identity() {
    let f = fixture();
    f.plain_endpoint("p");
    let threads = 16;
    let per_thread = 1000;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (k, b) = (f.k.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                let mut results = Vec::with_capacity(per_thread);
                for i in 0..per_thread {
                    // identities overlap across threads: 4 threads share each key space
                    let key = format!("id-{}-{}", t % 4, i);
                    let r = Receipt { dedupe_key: Some(key.clone()), ..Receipt::new(b"{}") };
                    let res = k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
                    assert_eq!(res.status_code, 204);
                    results.push((key, res));
                }
                results
            })
        })
        .collect();
    let all: Vec<(String, IngestResult)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(all.len(), threads * per_thread);
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), (threads * per_thread) as i64, "every returned receipt stored");
    assert_eq!(f.count("SELECT count(*) FROM knocker_events"), 4 * per_thread as i64, "one event per identity");
    let created: Vec<&IngestResult> = all.iter().map(|(_, r)| r).filter(|r| !r.duplicate).collect();
    assert_eq!(created.len(), 4 * per_thread, "exactly one caller created each identity");
    let ids: HashSet<i64> = all.iter().map(|(_, r)| r.delivery_id.unwrap()).collect();
    assert_eq!(ids.len(), threads * per_thread, "no delivery id handed out twice");
    // every caller's event id is the event stored for its key
    let c = f.raw();
    for (key, r) in all.iter().step_by(97) {
        let id: i64 = c.query_row("SELECT id FROM knocker_events WHERE dedupe_key = ?1", [key], |x| x.get(0)).unwrap();
        assert_eq!(r.event_id, Some(id));
    }
    let batched: i64 = c.query_row("SELECT count(DISTINCT received_at) FROM knocker_deliveries", [], |r| r.get(0)).unwrap();
    assert!(batched >= 1);
}

#[test]
fn a_receipt_that_fails_inside_a_batch_does_not_affect_its_neighbours() {
    let f = fixture();
    f.plain_endpoint("p");
    f.raw()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON knocker_deliveries WHEN NEW.dedupe_key LIKE 'poison%'
             BEGIN SELECT RAISE(ABORT, 'poisoned receipt'); END;",
        )
        .unwrap();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (k, b) = (f.k.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                let mut ok = 0;
                let mut failed = 0;
                for i in 0..300 {
                    let key = if i % 10 == 0 { format!("poison-{t}-{i}") } else { format!("good-{t}-{i}") };
                    let r = Receipt { dedupe_key: Some(key), ..Receipt::new(b"{}") };
                    match k.ingest("p", &r, TrustedOutcome::valid()) {
                        Ok(res) => {
                            assert_eq!(res.status_code, 204);
                            ok += 1;
                        }
                        Err(e) => {
                            assert!(e.to_string().contains("poisoned receipt"), "{e}");
                            failed += 1;
                        }
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (ok, failed) = handles.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((ok, failed), (8 * 270, 8 * 30));
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 8 * 270);
    assert_eq!(f.count("SELECT count(*) FROM knocker_events"), 8 * 270, "no event of a failed receipt survives its savepoint");
    assert_eq!(f.count("SELECT count(*) FROM knocker_events WHERE dedupe_key LIKE 'poison%'"), 0);
}
