//! The worker: claim, run the handler inside a transaction with the `handled` transition,
//! settle failures with backoff, and the loops built on those steps (`drain`, `run_worker`).
//!
//! Bindings whose handlers must run on a particular thread (Node's JS thread, Python's event
//! loop) drive the same steps themselves: [`Knocker::claim`], [`Knocker::process`],
//! [`Knocker::release`] and [`Knocker::wait_for_work`]. All decisions stay here.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode};
use tracing::{info_span, warn};

use crate::error::{Error, Result};
use crate::knocker::{panic_message, random_hex, Knocker};
use crate::model::*;
use crate::options::RetryPolicy;
use crate::storage::{self, Claim, Settle};

/// How a handler asks for something other than a plain failure.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerError {
    /// Failed; retry with the endpoint's backoff (or dead when attempts are exhausted).
    Failed(String),
    /// Retry after this many seconds instead of the backoff schedule (still counts an attempt).
    RetryAfter { after_s: f64, reason: String },
    /// Do not retry: the event goes `dead` now with this reason.
    Discard(String),
}

impl HandlerError {
    pub fn message(&self) -> &str {
        match self {
            HandlerError::Failed(m) | HandlerError::Discard(m) => m,
            HandlerError::RetryAfter { reason, .. } => reason,
        }
    }
}

impl<E: std::fmt::Display> From<E> for HandlerError {
    fn from(e: E) -> Self {
        HandlerError::Failed(e.to_string())
    }
}

/// The handler's transaction: business writes through it commit together with the `handled`
/// transition, or roll back when the handler fails.
pub struct HandlerTx<'a> {
    conn: &'a Connection,
    busy: std::cell::Cell<bool>,
}

/// One result row: column names and values in order.
pub type SqlRow = Vec<(String, SqlValue)>;

impl<'a> HandlerTx<'a> {
    /// The underlying connection, inside the open transaction (for Rust callers that want
    /// rusqlite directly). Do not commit or roll back through it, and leave its hooks alone:
    /// the connection is Knocker's and returns to its pool after the handler.
    pub fn connection(&self) -> &'a Connection {
        self.conn
    }

    /// Runs a statement; returns the number of changed rows.
    pub fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<usize> {
        let r = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute(rusqlite::params_from_iter(params.iter())));
        self.note(r).map_err(Error::from)
    }

    /// Runs a query; returns every row.
    pub fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<SqlRow>> {
        let r = query_rows(self.conn, sql, params);
        self.note(r).map_err(Error::from)
    }

    fn note<T>(&self, r: rusqlite::Result<T>) -> rusqlite::Result<T> {
        if let Err(rusqlite::Error::SqliteFailure(f, _)) = &r {
            if f.code == ErrorCode::DatabaseBusy {
                self.busy.set(true);
            }
        }
        r
    }
}

/// Runs app SQL and returns every row as (column, value) pairs.
pub(crate) fn query_rows(conn: &Connection, sql: &str, params: &[SqlValue]) -> rusqlite::Result<Vec<SqlRow>> {
    let mut st = conn.prepare_cached(sql)?;
    let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut r = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            r.push((n.clone(), row.get::<_, SqlValue>(i)?));
        }
        out.push(r);
    }
    Ok(out)
}

/// An event handler. Closures `Fn(&Event, &HandlerTx) -> Result<(), HandlerError>` implement it.
pub trait Handler: Send + Sync {
    fn handle(&self, event: &Event, tx: &HandlerTx<'_>) -> Result<(), HandlerError>;
}

impl<F> Handler for F
where
    F: Fn(&Event, &HandlerTx<'_>) -> Result<(), HandlerError> + Send + Sync,
{
    fn handle(&self, event: &Event, tx: &HandlerTx<'_>) -> Result<(), HandlerError> {
        self(event, tx)
    }
}

/// What processing one claim did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Handled,
    /// Will retry at `run_at_ms`.
    Failed { error: String, run_at_ms: i64 },
    Dead { error: String },
    /// The lease was no longer ours (reclaimed by another worker) or the event is gone; nothing
    /// was committed.
    Skipped,
}

/// A stop flag a worker loop checks between steps, with a wait that wakes on `set`.
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(&self) {
        let (m, cv) = &*self.inner;
        *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    pub fn is_set(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Sleeps up to `d`, returning early (true) when stopped.
    pub fn wait(&self, d: Duration) -> bool {
        let (m, cv) = &*self.inner;
        let g = m.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = cv.wait_timeout_while(g, d, |s| !*s).unwrap_or_else(|e| e.into_inner());
        *g
    }
}

/// Local, non-durable worker snapshots.
#[derive(Default)]
pub(crate) struct WorkerRegistry {
    states: Mutex<BTreeMap<String, WorkerState>>,
}

impl WorkerRegistry {
    fn update(&self, id: &str, f: impl FnOnce(&mut WorkerState)) {
        let mut m = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = m.get_mut(id) {
            f(s);
        }
    }
}

/// Options of a worker loop.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Default: `knocker-` + 8 hex characters.
    pub worker_id: Option<String>,
    pub idle_poll: Duration,
    pub claim_batch: Option<u32>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions { worker_id: None, idle_poll: Duration::from_millis(crate::options::IDLE_POLL_MS_DEFAULT), claim_batch: None }
    }
}

fn is_busy_snapshot(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DatabaseBusy)
}

impl Knocker {
    /// Registers a handler for an endpoint and event type (`None`: every type of that endpoint
    /// without a more specific handler). The last registration for a key wins.
    pub fn handle(&self, endpoint: &str, event_type: Option<&str>, handler: Arc<dyn Handler>) {
        self.inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((endpoint.to_string(), event_type.map(str::to_string)), handler);
    }

    /// Removes every registered handler (bindings use this on close to drop host references).
    pub fn clear_handlers(&self) {
        self.inner.handlers.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn lookup_handler(&self, endpoint: &str, event_type: Option<&str>) -> Option<Arc<dyn Handler>> {
        let map = self.inner.handlers.read().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = event_type {
            if let Some(h) = map.get(&(endpoint.to_string(), Some(t.to_string()))) {
                return Some(h.clone());
            }
        }
        map.get(&(endpoint.to_string(), None)).cloned()
    }

    /// Claims up to `n` events in one short write transaction.
    pub fn claim(&self, worker_id: &str, n: u32) -> Result<Vec<Claim>> {
        if n == 0 || n > 1000 {
            return Err(Error::invalid("claim batch must be between 1 and 1000"));
        }
        let _span = info_span!("knocker.claim", worker_id = %worker_id, batch = n).entered();
        let now = self.now_ms();
        let lease_ms = (self.inner.options.visibility_timeout_s * 1000.0) as i64;
        let prefix = self.next_token_prefix();
        let (claims, lost) = self.write(|tx| storage::claim(tx, worker_id, &prefix, now, lease_ms, n as i64))?;
        for dead in &lost {
            self.inner.metrics.record_lost_last_attempt(&dead.endpoint);
            tracing::warn!(event_id = dead.event_id, endpoint = %dead.endpoint, attempt = dead.attempt, error = %dead.error, "event dead-lettered");
        }
        Ok(claims)
    }

    /// Gives unstarted claims back (status and attempt count as before the claim, due now).
    pub fn release(&self, claims: &[Claim]) -> Result<()> {
        if claims.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        self.write(|tx| {
            for c in claims {
                storage::release(tx, c, now)?;
            }
            Ok(())
        })?;
        self.inner.notify.bump();
        Ok(())
    }

    /// Runs the registered handler for one claim and commits its outcome. See DESIGN.md "Worker".
    pub fn process(&self, claim: &Claim, worker_id: &str) -> Result<Outcome> {
        self.process_with(claim, worker_id, None)
    }

    /// Like [`Knocker::process`] with an explicit handler instead of the registry's (bindings
    /// whose handlers live on their side use this after [`Knocker::resolve_handler_key`]).
    pub fn process_with(&self, claim: &Claim, worker_id: &str, handler: Option<Arc<dyn Handler>>) -> Result<Outcome> {
        let mut outcomes = self.process_batch(std::slice::from_ref(claim), worker_id, handler, &|| false)?;
        Ok(outcomes.pop().unwrap_or(Outcome::Skipped))
    }

    /// Runs the handlers of several claims in ONE transaction, each in its own SAVEPOINT: a
    /// failing handler rolls back only its own writes, its retry/dead bookkeeping is recorded in
    /// the same transaction, and the batch commits once. Stops early (committing what ran) when
    /// the batch has taken `handler_batch_max_ms`, or when `stop()` turns true; returns the
    /// outcomes of the claims it processed, a prefix of `claims` — the caller releases or
    /// processes the rest.
    pub fn process_batch(
        &self,
        claims: &[Claim],
        worker_id: &str,
        explicit: Option<Arc<dyn Handler>>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<Outcome>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.inner.workers.get()?;
        // The events as their handlers see them, read before the handler transaction begins so
        // that the transaction takes no snapshot until a handler (or the bookkeeping) touches
        // the database: ingest is not blocked by a handler that has not written yet. Read on
        // the worker's own connection: SQLite empties a connection's page cache when another
        // connection committed since its last transaction, so a third connection would pay
        // that once more per batch.
        let views: Vec<Option<(Event, std::result::Result<Event, String>)>> = claims
            .iter()
            .map(|claim| match storage::load_claimed(&conn, claim)? {
                Some(event) => {
                    let view = handler_view(&conn, &event)?;
                    Ok(Some((event, view)))
                }
                None => Ok(None),
            })
            .collect::<Result<_>>()?;
        // DEFERRED first. If SQLite refuses the late lock upgrade because another writer
        // committed after a handler's first read (SQLITE_BUSY_SNAPSHOT), the whole batch rolls
        // back and runs once more under IMMEDIATE: handlers are at-least-once, their `tx` writes
        // exactly-once.
        for immediate in [false, true] {
            let behavior =
                if immediate { rusqlite::TransactionBehavior::Immediate } else { rusqlite::TransactionBehavior::Deferred };
            let tx = conn.transaction_with_behavior(behavior)?;
            let batch_started = std::time::Instant::now();
            let max = Duration::from_millis(self.inner.options.handler_batch_max_ms);
            let mut outcomes: Vec<Outcome> = Vec::with_capacity(claims.len());
            let mut retry_batch = false;
            for (claim, view) in claims.iter().zip(&views) {
                if !outcomes.is_empty() && (batch_started.elapsed() >= max || stop()) {
                    break;
                }
                match self.run_one(&tx, claim, view, worker_id, &explicit, immediate) {
                    Ok(o) => outcomes.push(o),
                    Err(Error::Busy(_)) if !immediate => {
                        retry_batch = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if retry_batch {
                continue;
            }
            let _commit = tracing::debug_span!("knocker.commit", worker_id = %worker_id, events = outcomes.len()).entered();
            match tx.commit() {
                Ok(()) => {}
                Err(e) if !immediate && is_busy_snapshot(&e) => continue,
                Err(e) => return Err(e.into()),
            }
            self.check_committed(None)?;
            self.record_batch_metrics(&views, &outcomes);
            let mut retried = false;
            for o in &outcomes {
                self.inner.worker_registry.update(worker_id, |s| match o {
                    Outcome::Handled => s.processed += 1,
                    Outcome::Failed { .. } | Outcome::Dead { .. } => s.failed += 1,
                    Outcome::Skipped => {}
                });
                retried |= matches!(o, Outcome::Failed { .. });
            }
            if retried {
                self.inner.notify.bump();
            }
            return Ok(outcomes);
        }
        unreachable!("the IMMEDIATE pass always returns")
    }

    /// One claim inside the batch transaction. `Err(Busy)` asks the caller to retry the batch.
    fn run_one(
        &self,
        tx: &Connection,
        claim: &Claim,
        view: &Option<(Event, std::result::Result<Event, String>)>,
        worker_id: &str,
        explicit: &Option<Arc<dyn Handler>>,
        immediate: bool,
    ) -> Result<Outcome> {
        let span = info_span!("knocker.handle", event_id = claim.event_id, attempt = claim.attempt_no, worker_id = %worker_id, outcome = tracing::field::Empty,
            endpoint = tracing::field::Empty, trace_id = tracing::field::Empty, parent_span_id = tracing::field::Empty);
        // Link the trace context before the span is entered: an OpenTelemetry bridge can only set
        // the parent of a span that has not started.
        if let Some((_, Ok(v))) = view {
            span.record("endpoint", v.endpoint.as_str());
            crate::trace::link_handler_span(&span, v.traceparent.as_deref());
        }
        let _e = span.enter();
        let started = self.now_ms();
        let Some((event, view)) = view else { return Ok(Outcome::Skipped) };
        let view = match view {
            Ok(v) => v,
            Err(reason) => {
                let o = self.settle_failure_in(tx, claim, worker_id, started, event, HandlerError::Discard(reason.clone()))?;
                return Ok(o);
            }
        };
        let handler = explicit.clone().or_else(|| self.lookup_handler(&view.endpoint, view.event_type.as_deref()));
        let Some(handler) = handler else {
            let err = format!("no handler registered for endpoint={:?} event_type={:?}", view.endpoint, view.event_type);
            return self.settle_failure_in(tx, claim, worker_id, started, event, HandlerError::Discard(err));
        };
        self.inner.worker_registry.update(worker_id, |s| s.current_event_id = Some(claim.event_id));
        storage::exec_cached(tx, "SAVEPOINT knocker_handler")?;
        let htx = HandlerTx { conn: tx, busy: std::cell::Cell::new(false) };
        let handler_started = std::time::Instant::now();
        let result = match catch_unwind(AssertUnwindSafe(|| handler.handle(view, &htx))) {
            Ok(r) => r,
            Err(panic) => Err(HandlerError::Failed(format!("handler panicked: {}", panic_message(&panic)))),
        };
        self.inner.metrics.handler_duration.observe(handler_started.elapsed());
        self.inner.worker_registry.update(worker_id, |s| s.current_event_id = None);
        if htx.busy.get() && result.is_err() && !immediate {
            return Err(Error::Busy("handler hit a stale snapshot".into()));
        }
        let outcome = match result {
            Ok(()) => {
                let now = self.now_ms();
                if storage::settle(tx, claim, now, &Settle::Handled)? {
                    storage::insert_attempt(tx, claim.event_id, claim.attempt_no, Some(worker_id), event.replay_delivery_id, started, now, "handled", None)?;
                    storage::exec_cached(tx, "RELEASE knocker_handler")?;
                    Outcome::Handled
                } else {
                    // The lease was taken over while the handler ran: nothing it wrote stays.
                    warn!(event_id = claim.event_id, "lease lost before commit; handler writes rolled back");
                    storage::exec_cached(tx, "ROLLBACK TO knocker_handler")?;
                    storage::exec_cached(tx, "RELEASE knocker_handler")?;
                    Outcome::Skipped
                }
            }
            Err(herr) => {
                storage::exec_cached(tx, "ROLLBACK TO knocker_handler")?;
                storage::exec_cached(tx, "RELEASE knocker_handler")?;
                self.settle_failure_in(tx, claim, worker_id, started, event, herr)?
            }
        };
        span.record(
            "outcome",
            match &outcome {
                Outcome::Handled => "handled",
                Outcome::Failed { .. } => "failed",
                Outcome::Dead { .. } => "dead",
                Outcome::Skipped => "skipped",
            },
        );
        Ok(outcome)
    }

    /// Retry/dead bookkeeping of a failed attempt, inside the caller's transaction.
    fn settle_failure_in(&self, tx: &Connection, claim: &Claim, worker_id: &str, started: i64, event: &Event, herr: HandlerError) -> Result<Outcome> {
        let now = self.now_ms();
        let error = herr.message().to_string();
        let policy = self.retry_policy_for(tx, claim.endpoint_id, claim.max_attempts)?;
        let exhausted = claim.attempt_no >= claim.max_attempts;
        let (settle, outcome) = match &herr {
            HandlerError::Discard(_) => (Settle::Dead { error: &error }, Outcome::Dead { error: error.clone() }),
            _ if exhausted => (Settle::Dead { error: &error }, Outcome::Dead { error: error.clone() }),
            HandlerError::RetryAfter { after_s, .. } => {
                let at = now + (after_s.max(0.0) * 1000.0) as i64;
                (Settle::Retry { run_at_ms: at, error: &error }, Outcome::Failed { error: error.clone(), run_at_ms: at })
            }
            HandlerError::Failed(_) => {
                let jitter: f64 = rand::random();
                let at = now + (policy.delay_s(claim.attempt_no as u32, jitter) * 1000.0) as i64;
                (Settle::Retry { run_at_ms: at, error: &error }, Outcome::Failed { error: error.clone(), run_at_ms: at })
            }
        };
        if !storage::settle(tx, claim, now, &settle)? {
            return Ok(Outcome::Skipped);
        }
        let kind = match outcome {
            Outcome::Dead { .. } => "dead",
            _ => "failed",
        };
        storage::insert_attempt(tx, claim.event_id, claim.attempt_no, Some(worker_id), event.replay_delivery_id, started, now, kind, Some(&error))?;
        Ok(outcome)
    }

    /// The handler key the registry would use for this event: `(endpoint, Some(type))` when a
    /// type-specific handler exists, else `(endpoint, None)`.
    pub fn resolve_handler_key(&self, endpoint: &str, event_type: Option<&str>) -> Option<(String, Option<String>)> {
        let map = self.inner.handlers.read().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = event_type {
            let k = (endpoint.to_string(), Some(t.to_string()));
            if map.contains_key(&k) {
                return Some(k);
            }
        }
        let k = (endpoint.to_string(), None);
        map.contains_key(&k).then_some(k)
    }

    fn retry_policy_for(&self, conn: &Connection, endpoint_id: i64, max_attempts: i64) -> Result<RetryPolicy> {
        let row = storage::endpoint_by_id(conn, endpoint_id)?;
        Ok(match row {
            Some(r) => RetryPolicy { max_attempts: max_attempts as u32, backoff_base_s: r.backoff_base_s, backoff_max_s: r.backoff_max_s },
            None => RetryPolicy { max_attempts: max_attempts as u32, ..self.inner.options.retry },
        })
    }

    /// For handlers that cannot run inside the handler transaction (async handlers in Node or
    /// Python): the event as the handler sees it, or `None` when the claim is no longer ours.
    /// Run the handler, then call [`Knocker::complete`] with its result. No write lock is held
    /// in between.
    pub fn claimed_event(&self, claim: &Claim) -> Result<Option<Event>> {
        self.read(|c| {
            let Some(event) = storage::load_claimed(c, claim)? else { return Ok(None) };
            Ok(Some(handler_view(c, &event)?.unwrap_or(event)))
        })
    }

    /// Commits the outcome of a handler that ran outside a transaction (see
    /// [`Knocker::claimed_event`]): `handled`, or the same failure bookkeeping as `process`.
    pub fn complete(&self, claim: &Claim, worker_id: &str, started_ms: i64, result: Result<(), HandlerError>) -> Result<Outcome> {
        let event = match self.read(|c| storage::load_claimed(c, claim))? {
            Some(e) => e,
            None => return Ok(Outcome::Skipped),
        };
        match result {
            Ok(()) => {
                let now = self.now_ms();
                let ok = self.write(|tx| {
                    let ok = storage::settle(tx, claim, now, &Settle::Handled)?;
                    if ok {
                        storage::insert_attempt(tx, claim.event_id, claim.attempt_no, Some(worker_id), event.replay_delivery_id, started_ms, now, "handled", None)?;
                    }
                    Ok(ok)
                })?;
                self.inner.worker_registry.update(worker_id, |s| if ok { s.processed += 1 });
                let o = if ok { Outcome::Handled } else { Outcome::Skipped };
                self.record_completed_metrics(&event, &o, started_ms);
                Ok(o)
            }
            Err(herr) => {
                let o = self.write(|tx| self.settle_failure_in(tx, claim, worker_id, started_ms, &event, herr))?;
                self.inner.worker_registry.update(worker_id, |s| if !matches!(o, Outcome::Skipped) { s.failed += 1 });
                self.record_completed_metrics(&event, &o, started_ms);
                if matches!(o, Outcome::Failed { .. }) {
                    self.inner.notify.bump();
                }
                Ok(o)
            }
        }
    }

    /// Processes until nothing is claimable (or `max_events` were processed) and returns how many
    /// events were processed (handled, failed or dead).
    pub fn drain(&self, max_events: Option<usize>) -> Result<usize> {
        let worker_id = format!("knocker-drain-{}", random_hex(4));
        let batch = self.inner.options.claim_batch;
        let mut done = 0usize;
        loop {
            let want = match max_events {
                Some(m) if done >= m => break,
                Some(m) => (m - done).min(batch as usize) as u32,
                None => batch,
            };
            let claims = self.claim(&worker_id, want)?;
            if claims.is_empty() {
                break;
            }
            let mut rest: &[Claim] = &claims;
            while !rest.is_empty() {
                let take = rest.len().min(self.inner.options.handler_batch.max(1) as usize);
                match self.process_batch(&rest[..take], &worker_id, None, &|| false) {
                    Ok(outcomes) => {
                        done += outcomes.iter().filter(|o| !matches!(o, Outcome::Skipped)).count();
                        rest = &rest[outcomes.len().max(1).min(rest.len())..];
                    }
                    Err(e) => {
                        let _ = self.release(rest);
                        return Err(e);
                    }
                }
            }
        }
        Ok(done)
    }

    /// Blocks until work may be claimable, `timeout` passes, or the handle is notified. Uses
    /// in-process notification and the earliest scheduled `run_at`; other processes' commits are
    /// seen at the next poll (`timeout`).
    pub fn wait_for_work(&self, seen_generation: u64, timeout: Duration) -> Result<()> {
        let now = self.now_ms();
        let due = self.read(storage::next_due_ms)?;
        let mut wait = timeout;
        if let Some(d) = due {
            let until = Duration::from_millis((d - now).max(0) as u64);
            wait = wait.min(until);
        }
        if !wait.is_zero() {
            self.inner.notify.wait_past(seen_generation, wait);
        }
        Ok(())
    }

    /// The current wake-up generation, to pass to [`Knocker::wait_for_work`] after a claim came
    /// back empty.
    pub fn notify_generation(&self) -> u64 {
        self.inner.notify.current()
    }

    /// Runs a worker loop on this thread until `stop` is set: claims batches, runs handlers,
    /// sleeps when idle. On stop it finishes the in-flight handler and releases unstarted
    /// claims. A loop error (not a handler failure) is recorded in the worker state, passed to
    /// `on_error`, and returned.
    pub fn run_worker(&self, opts: &WorkerOptions, stop: &StopSignal, mut on_error: impl FnMut(&Error)) -> Result<()> {
        let worker_id = opts.worker_id.clone().unwrap_or_else(|| format!("knocker-{}", random_hex(4)));
        self.register_worker(&worker_id);
        // Wake the condvar wait when stop is set from another thread; exits with the loop.
        let loop_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopper = {
            let (stop, k, done) = (stop.clone(), self.clone(), loop_done.clone());
            std::thread::spawn(move || {
                while !stop.wait(Duration::from_millis(100)) {
                    if k.is_closed() || done.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                }
                k.inner.notify.bump();
            })
        };
        let result = self.worker_loop(&worker_id, opts, stop);
        loop_done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = &result {
            self.record_worker_error(&worker_id, &e.to_string());
            on_error(e);
        }
        self.finish_worker(&worker_id);
        let _ = stopper.join();
        result
    }

    fn worker_loop(&self, worker_id: &str, opts: &WorkerOptions, stop: &StopSignal) -> Result<()> {
        let batch = opts.claim_batch.unwrap_or(self.inner.options.claim_batch);
        while !stop.is_set() && !self.is_closed() {
            let generation = self.notify_generation();
            let claims = self.claim(worker_id, batch)?;
            if claims.is_empty() {
                self.wait_for_work(generation, opts.idle_poll)?;
                continue;
            }
            let mut rest: &[Claim] = &claims;
            while !rest.is_empty() {
                if stop.is_set() || self.is_closed() {
                    if !self.is_closed() {
                        self.release(rest)?;
                    }
                    return Ok(());
                }
                let take = rest.len().min(self.inner.options.handler_batch.max(1) as usize);
                match self.process_batch(&rest[..take], worker_id, None, &|| stop.is_set()) {
                    Ok(outcomes) => rest = &rest[outcomes.len().max(1).min(rest.len())..],
                    Err(e) => {
                        if !self.is_closed() {
                            let _ = self.release(rest);
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Registers a worker id in the local state table (bindings that run their own loop call
    /// this, then `finish_worker`).
    pub fn register_worker(&self, worker_id: &str) {
        let mut m = self.inner.worker_registry.states.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(
            worker_id.to_string(),
            WorkerState {
                worker_id: worker_id.to_string(),
                running: true,
                started_at: self.now_ms() / 1000,
                current_event_id: None,
                processed: 0,
                failed: 0,
                last_error: None,
                last_error_at: None,
            },
        );
    }

    /// Records a worker-loop error in the local state.
    pub fn record_worker_error(&self, worker_id: &str, error: &str) {
        let now = self.now_ms() / 1000;
        self.inner.worker_registry.update(worker_id, |s| {
            s.last_error = Some(error.to_string());
            s.last_error_at = Some(now);
        });
    }

    /// Marks a worker as stopped in the local state.
    pub fn finish_worker(&self, worker_id: &str) {
        self.inner.worker_registry.update(worker_id, |s| {
            s.running = false;
            s.current_event_id = None;
        });
    }

    /// Local, non-durable snapshots of this handle's worker loops, sorted by id.
    pub fn worker_states(&self) -> Vec<WorkerState> {
        self.inner.worker_registry.states.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}

/// The event as its handler sees it: for a `replay_delivery` run, that delivery's payload and
/// metadata over the canonical event. `Ok(Err(reason))` when the delivery to replay is gone.
fn handler_view(conn: &Connection, event: &Event) -> Result<std::result::Result<Event, String>> {
    let mut view = event.clone();
    let Some(did) = event.replay_delivery_id else { return Ok(Ok(view)) };
    match storage::get_delivery(conn, did)? {
        Some(d) if d.event_id == Some(event.id) => {
            view.event_type = d.event_type;
            view.provider_event_id = d.provider_event_id;
            view.provider_delivery_id = d.provider_delivery_id;
            view.dedupe_key = d.dedupe_key;
            view.method = d.method;
            view.url = d.url;
            view.headers = d.headers;
            view.query = d.query;
            view.body = d.body;
            view.traceparent = d.traceparent;
            Ok(Ok(view))
        }
        _ => Ok(Err(format!("delivery {did} to replay is gone or not linked to event {}", event.id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signal_wakes_waiters() {
        let s = StopSignal::new();
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.wait(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        s.set();
        assert!(t.join().unwrap());
        assert!(s.is_set());
    }
}
