//! `make demo`: the main job end to end on a local SQLite file.
//!
//! Registers a signed endpoint, receives webhooks (valid, duplicate, forged, oversize), runs the
//! worker with a handler that writes a business row through `tx`, fails one event through its
//! retries into `dead`, recovers it with `requeue`, prunes, and prints what happened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use knocker::{
    testing::hmac_sha256_hex, DeliveryFilter, Endpoint, Event, EventFilter, HandlerError, Knocker, PruneEvents,
    Request, RetryPolicy, Status, Transaction,
};

const SECRET: &[u8] = b"whsec_demo_secret";

fn signed<'a>(body: &'a [u8], delivery_id: &str) -> Request<'a> {
    Request::post(body)
        .header("X-Signature", format!("sha256={}", hmac_sha256_hex(SECRET, body)))
        .header("X-Delivery", delivery_id)
        .header("X-Event", "order.paid")
}

fn main() -> knocker::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "demo.sqlite".to_string());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    let inbox = Knocker::builder(&path).idle_poll(Duration::from_millis(20)).open()?;
    println!("opened {path}");

    inbox.add_endpoint(
        Endpoint::new("shop", "/hooks/shop")
            .provider("generic-hmac")
            .secret(SECRET)
            .option("header", "X-Signature")
            .option("id_header", "X-Delivery")
            .option("event_type_header", "X-Event")
            .max_body_bytes(4 * 1024)
            .retry(RetryPolicy { max_attempts: 3, backoff_base_s: 0.05, backoff_max_s: 0.2 }),
    )?;
    inbox.execute_batch("CREATE TABLE IF NOT EXISTS paid_orders (order_id TEXT PRIMARY KEY, event_id INTEGER NOT NULL)")?;

    println!("\n== ingress: what the route answers");
    let cases: Vec<(&str, Request<'_>)> = vec![
        ("valid order-1", signed(br#"{"order":"order-1"}"#, "dlv-1")),
        ("valid order-2", signed(br#"{"order":"order-2"}"#, "dlv-2")),
        ("provider retry of order-1", signed(br#"{"order":"order-1"}"#, "dlv-1")),
        ("poison order-3", signed(br#"{"order":"order-3","poison":true}"#, "dlv-3")),
        (
            "forged",
            Request::post(br#"{"order":"free-stuff"}"#).header("X-Signature", "sha256=00").header("X-Delivery", "dlv-x"),
        ),
    ];
    for (label, request) in cases {
        let r = inbox.receive("shop", request)?;
        println!(
            "  {label:<28} -> {} event={:?} duplicate={} {}",
            r.status_code,
            r.event_id,
            r.duplicate,
            r.error_code.unwrap_or_default()
        );
    }
    let big = vec![b'x'; 8 * 1024];
    let r = inbox.receive("shop", signed(&big, "dlv-big"))?;
    println!("  {:<28} -> {} {}", "oversize (8 KiB > 4 KiB)", r.status_code, r.error_code.unwrap_or_default());
    let r = inbox.receive("nowhere", Request::post(b"{}"))?;
    println!("  {:<28} -> {} {}", "unknown endpoint", r.status_code, r.error_code.unwrap_or_default());

    println!("\n== worker: business rows commit with the handled transition");
    let poison_fixed = Arc::new(AtomicBool::new(false));
    let fixed = poison_fixed.clone();
    inbox.handle("shop", Some("order.paid"), move |event: &Event, tx: &Transaction| {
        let body = String::from_utf8_lossy(&event.body).to_string();
        if body.contains("poison") && !fixed.load(Ordering::SeqCst) {
            return Err(HandlerError::Failed(format!("cannot parse order (attempt {})", event.attempt_count)));
        }
        let order = body.split('"').nth(3).unwrap_or("?").to_string();
        tx.execute(
            "INSERT INTO paid_orders (order_id, event_id) VALUES (?1, ?2)",
            &[order.into(), event.id.into()],
        )?;
        Ok(())
    });
    let (stop, worker) = inbox.spawn_worker(Default::default());
    wait_until(|| inbox.stats().map(|s| s.dead == 1 && s.claimable == 0).unwrap_or(false));
    for e in inbox.list_events(&EventFilter::default())?.iter().rev() {
        println!("  event {} {:<8} attempts={} {}", e.id, e.status, e.attempt_count, e.last_error.clone().unwrap_or_default());
    }
    let dead = inbox.list_events(&EventFilter { status: Some("dead".into()), ..Default::default() })?;
    let dead_id = dead[0].id;
    let history: Vec<String> = inbox.list_attempts(dead_id)?.into_iter().map(|a| a.outcome).collect();
    println!("  dead event {dead_id} attempt history: {history:?}");

    println!("\n== 3 AM recovery: fix the bug, requeue the dead event");
    poison_fixed.store(true, Ordering::SeqCst);
    inbox.requeue(dead_id)?;
    wait_until(|| inbox.get_event(dead_id).map(|e| e.status == Status::Handled).unwrap_or(false));
    println!("  event {dead_id} is now {}", inbox.get_event(dead_id)?.status);
    stop.set();
    worker.join().expect("worker thread")?;

    let orphans = inbox.list_deliveries(&DeliveryFilter { orphaned: Some(true), ..Default::default() })?;
    println!("\n== orphan deliveries (kept for the operator, never processed)");
    for d in &orphans {
        println!("  delivery {} status={} {}", d.id, d.status_code, d.signature_error.clone().unwrap_or_default());
    }

    println!("\n== retention: prune handled events (dry run first)");
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + 1;
    let preview = inbox.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: now_s, limit: 100, dry_run: true })?;
    println!("  dry run: would prune {} events, {} deliveries, {} attempts", preview.events_pruned, preview.deliveries_pruned, preview.attempts_pruned);
    let done = inbox.prune_events(&PruneEvents { statuses: vec![Status::Handled], older_than: now_s, limit: 100, dry_run: false })?;
    println!("  pruned {} events, {} deliveries, {} attempts", done.events_pruned, done.deliveries_pruned, done.attempts_pruned);
    let audit = &inbox.list_prune_audits(&Default::default())?[0];
    println!("  audit row {}: {} {}", audit.id, audit.kind, audit.summary_json);

    let stats = inbox.stats()?;
    let orders: i64 = inbox.core().query("SELECT count(*) AS n FROM paid_orders", &[])?[0][0].1.clone().try_into_i64();
    println!("\n== final: {orders} business rows, by status {:?}, claimable {}", stats.by_status, stats.claimable);
    assert_eq!(orders, 3, "order-1, order-2 and the recovered order-3");

    println!("\n== leave one for the operator: order-4 hits a regression and goes dead");
    poison_fixed.store(false, Ordering::SeqCst);
    let r = inbox.receive("shop", signed(br#"{"order":"order-4","poison":true}"#, "dlv-4"))?;
    let order4 = r.event_id.expect("order-4 is a valid delivery");
    wait_until(|| {
        let _ = inbox.drain(None);
        inbox.get_event(order4).map(|e| e.status == Status::Dead).unwrap_or(false)
    });
    println!("  event {order4} is dead; recover it with: knocker --db {path} requeue --status dead --yes");
    println!("\ndemo ok: inspect {path} with sqlite3, or run the operator CLI against it");
    Ok(())
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "demo timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

trait IntoI64 {
    fn try_into_i64(self) -> i64;
}
impl IntoI64 for knocker::SqlValue {
    fn try_into_i64(self) -> i64 {
        match self {
            knocker::SqlValue::Integer(n) => n,
            _ => -1,
        }
    }
}
