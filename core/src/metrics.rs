//! Process-local metrics of one handle: counters and histograms updated on the hot path with
//! relaxed atomics, and gauges read from the file on demand (`stats()`).
//!
//! Hot path cost per receipt: one `Instant::now()` pair, one read lock on the endpoint map (a
//! read-mostly map of `Arc<EndpointCounters>`, an entry created once per endpoint name) and two
//! relaxed `fetch_add`s. No allocation, except the first time an endpoint or an error code is
//! seen. Metric names and labels are a public, stable contract: see [`Knocker::prometheus_text`]
//! and the Observability pages of the docs.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::error::Result;
use crate::knocker::Knocker;
use crate::model::{IngestResult, Stats};
use crate::worker::Outcome;

/// Receipt outcomes of a known endpoint (`knocker_receipts_total{outcome=...}`). Receipts for an
/// unknown endpoint are counted once per handle, as `{endpoint="",outcome="unknown_endpoint"}`.
pub const RECEIPT_OUTCOMES: [&str; 6] = ["created", "duplicate", "invalid", "too_large", "disabled", "handshake"];
/// Handler attempt outcomes (`knocker_handler_attempts_total{outcome=...}`).
pub const ATTEMPT_OUTCOMES: [&str; 4] = ["handled", "failed", "dead", "skipped"];

const R_CREATED: usize = 0;
const R_DUPLICATE: usize = 1;
const R_INVALID: usize = 2;
const R_TOO_LARGE: usize = 3;
const R_DISABLED: usize = 4;
const R_HANDSHAKE: usize = 5;

/// Distinct error codes kept per endpoint; more (a custom provider inventing codes) count as `other`.
const MAX_ERROR_CODES: usize = 32;

/// Upper bounds (seconds) of `knocker_receive_duration_seconds`.
pub const RECEIVE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds (seconds) of `knocker_handler_duration_seconds`.
pub const HANDLER_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Upper bounds (seconds) of `knocker_enqueue_to_handled_seconds`.
pub const LAG_BUCKETS: &[f64] =
    &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4.0 * 3600.0, 24.0 * 3600.0, 3.0 * 24.0 * 3600.0];

/// A histogram with fixed buckets: one atomic per bucket, a count and a sum (nanoseconds).
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts; the last slot is +Inf.
    counts: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = self.bounds.iter().position(|b| s <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut cum = 0u64;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (i, b) in self.bounds.iter().enumerate() {
            cum += self.counts[i].load(Relaxed);
            buckets.push((*b, cum));
        }
        cum += self.counts[self.bounds.len()].load(Relaxed);
        // `count` is read after the buckets; report the bucket total so the snapshot is consistent.
        HistogramSnapshot { buckets, count: cum, sum_s: self.sum_ns.load(Relaxed) as f64 / 1e9 }
    }
}

/// Counters of one endpoint.
pub(crate) struct EndpointCounters {
    receipts: [AtomicU64; RECEIPT_OUTCOMES.len()],
    errors: RwLock<BTreeMap<String, AtomicU64>>,
    attempts: [AtomicU64; ATTEMPT_OUTCOMES.len()],
    dead_letters: AtomicU64,
    retries: AtomicU64,
}

impl EndpointCounters {
    fn new() -> Self {
        EndpointCounters {
            receipts: Default::default(),
            errors: RwLock::new(BTreeMap::new()),
            attempts: Default::default(),
            dead_letters: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    fn count_error(&self, code: &str) {
        if let Some(c) = self.errors.read().unwrap_or_else(|e| e.into_inner()).get(code) {
            c.fetch_add(1, Relaxed);
            return;
        }
        let mut m = self.errors.write().unwrap_or_else(|e| e.into_inner());
        let key = if m.len() >= MAX_ERROR_CODES && !m.contains_key(code) { "other" } else { code };
        m.entry(key.to_string()).or_insert_with(|| AtomicU64::new(0)).fetch_add(1, Relaxed);
    }
}

/// Every counter and histogram of one handle (shared by its clones).
pub(crate) struct Metrics {
    endpoints: RwLock<HashMap<String, Arc<EndpointCounters>>>,
    unknown_endpoint: AtomicU64,
    receive_errors: AtomicU64,
    pub(crate) receive_duration: Histogram,
    pub(crate) handler_duration: Histogram,
    pub(crate) enqueue_to_handled: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            endpoints: RwLock::new(HashMap::new()),
            unknown_endpoint: AtomicU64::new(0),
            receive_errors: AtomicU64::new(0),
            receive_duration: Histogram::new(RECEIVE_BUCKETS),
            handler_duration: Histogram::new(HANDLER_BUCKETS),
            enqueue_to_handled: Histogram::new(LAG_BUCKETS),
        }
    }
}

impl Metrics {
    /// The counters of an endpoint, created the first time the name is seen.
    pub(crate) fn endpoint(&self, name: &str) -> Arc<EndpointCounters> {
        if let Some(c) = self.endpoints.read().unwrap_or_else(|e| e.into_inner()).get(name) {
            return c.clone();
        }
        self.endpoints
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(EndpointCounters::new()))
            .clone()
    }

    fn with_endpoint(&self, name: &str, f: impl FnOnce(&EndpointCounters)) {
        if let Some(c) = self.endpoints.read().unwrap_or_else(|e| e.into_inner()).get(name) {
            f(c);
            return;
        }
        f(&self.endpoint(name));
    }

    /// Counts one `receive` / `ingest` call by what it answered. Hook: the end of `receive` and
    /// `ingest` in `knocker.rs`.
    pub(crate) fn record_receipt(&self, endpoint: &str, result: &Result<IngestResult>, elapsed: Duration) {
        self.receive_duration.observe(elapsed);
        let r = match result {
            Ok(r) => r,
            Err(_) => {
                self.receive_errors.fetch_add(1, Relaxed);
                return;
            }
        };
        let code = r.error_code.as_deref();
        if r.delivery_id.is_none() {
            // Nothing stored: unknown endpoint. Counted without the name (callers choose it).
            self.unknown_endpoint.fetch_add(1, Relaxed);
            return;
        }
        let slot = match code {
            None if r.duplicate => R_DUPLICATE,
            None => R_CREATED,
            Some("endpoint_disabled") => R_DISABLED,
            Some("body_too_large") => R_TOO_LARGE,
            Some("handshake") => R_HANDSHAKE,
            Some(_) => R_INVALID,
        };
        self.with_endpoint(endpoint, |c| {
            c.receipts[slot].fetch_add(1, Relaxed);
            if slot == R_INVALID {
                c.count_error(code.unwrap_or("unknown"));
                tracing::debug!(endpoint, error_code = code.unwrap_or("unknown"), "receipt rejected");
            }
        });
    }

    /// Counts an event a claim moved to `dead` because the lease of its last allowed attempt
    /// expired (no handler outcome was committed for that attempt).
    pub(crate) fn record_lost_last_attempt(&self, endpoint: &str) {
        self.with_endpoint(endpoint, |c| {
            c.dead_letters.fetch_add(1, Relaxed);
        });
    }

    /// Counts committed handler outcomes. Hook: after the handler batch commits (`process_batch`)
    /// and after `complete`. `run_at_ms` is when the event became due for this attempt.
    pub(crate) fn record_outcome(&self, endpoint: &str, outcome: &Outcome, run_at_ms: i64, now_ms: i64) {
        let i = match outcome {
            Outcome::Handled => 0,
            Outcome::Failed { .. } => 1,
            Outcome::Dead { .. } => 2,
            Outcome::Skipped => 3,
        };
        self.with_endpoint(endpoint, |c| {
            c.attempts[i].fetch_add(1, Relaxed);
            match outcome {
                Outcome::Failed { .. } => {
                    c.retries.fetch_add(1, Relaxed);
                }
                Outcome::Dead { .. } => {
                    c.dead_letters.fetch_add(1, Relaxed);
                }
                _ => {}
            }
        });
        if matches!(outcome, Outcome::Handled) {
            self.enqueue_to_handled.observe(Duration::from_millis((now_ms - run_at_ms).max(0) as u64));
        }
    }

    fn snapshot(&self, stats: Stats) -> MetricsSnapshot {
        let endpoints = self
            .endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, c)| {
                let m = EndpointMetrics {
                    receipts: RECEIPT_OUTCOMES
                        .iter()
                        .zip(&c.receipts)
                        .map(|(o, v)| (o.to_string(), v.load(Relaxed)))
                        .collect(),
                    invalid_by_error_code: c
                        .errors
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .map(|(k, v)| (k.clone(), v.load(Relaxed)))
                        .collect(),
                    handler_attempts: ATTEMPT_OUTCOMES.iter().zip(&c.attempts).map(|(o, v)| (o.to_string(), v.load(Relaxed))).collect(),
                    dead_letters: c.dead_letters.load(Relaxed),
                    retries: c.retries.load(Relaxed),
                };
                (name.clone(), m)
            })
            .collect();
        MetricsSnapshot {
            endpoints,
            unknown_endpoint_receipts: self.unknown_endpoint.load(Relaxed),
            receive_errors: self.receive_errors.load(Relaxed),
            receive_duration: self.receive_duration.snapshot(),
            handler_duration: self.handler_duration.snapshot(),
            enqueue_to_handled: self.enqueue_to_handled.snapshot(),
            stats,
        }
    }
}

/// A histogram as of a snapshot: cumulative `(upper bound in seconds, count)` pairs (the +Inf
/// bucket is `count`), the number of observations and their sum in seconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_s: f64,
}

/// Process-local counters of one endpoint (since this handle was opened).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointMetrics {
    /// Receipts by outcome: `created`, `duplicate`, `invalid`, `too_large`, `disabled`, `handshake`
    /// (every key present).
    pub receipts: BTreeMap<String, u64>,
    /// Invalid receipts (401) by `error_code` (`signature_mismatch`, `timestamp_out_of_tolerance`, ...).
    pub invalid_by_error_code: BTreeMap<String, u64>,
    /// Committed handler attempts by outcome: `handled`, `failed` (retry scheduled), `dead`,
    /// `skipped` (lease lost, nothing committed). Every key present.
    pub handler_attempts: BTreeMap<String, u64>,
    /// Events this handle's workers moved to `dead` (attempts exhausted, discard, no handler,
    /// or the lease of the last allowed attempt expired).
    pub dead_letters: u64,
    /// Retries scheduled (failed attempts with a next run).
    pub retries: u64,
}

/// Counters and histograms of this handle (process-local, reset at open) plus gauges read from
/// the file (`stats`, shared by every process on it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsSnapshot {
    pub endpoints: BTreeMap<String, EndpointMetrics>,
    /// Receipts for an endpoint name the file does not know (404, nothing stored).
    pub unknown_endpoint_receipts: u64,
    /// `receive` / `ingest` calls that returned an error (busy, closed, verification not configured).
    pub receive_errors: u64,
    pub receive_duration: HistogramSnapshot,
    pub handler_duration: HistogramSnapshot,
    pub enqueue_to_handled: HistogramSnapshot,
    /// Gauges: the file's queue state, as [`Knocker::stats`] returns it.
    pub stats: Stats,
}

impl Knocker {
    /// Counters, histograms and gauges (see [`MetricsSnapshot`]). Reads the file for the gauges.
    pub fn metrics(&self) -> Result<MetricsSnapshot> {
        let stats = self.stats()?;
        Ok(self.inner.metrics.snapshot(stats))
    }

    /// The Prometheus text exposition (format 0.0.4) of [`Knocker::metrics`]: serve it as
    /// `text/plain; version=0.0.4` from `/metrics`. Names (stable):
    ///
    /// counters `knocker_receipts_total{endpoint,outcome}`,
    /// `knocker_invalid_receipts_total{endpoint,error_code}`,
    /// `knocker_receive_errors_total`, `knocker_handler_attempts_total{endpoint,outcome}`,
    /// `knocker_dead_letters_total{endpoint}`, `knocker_retries_total{endpoint}`;
    /// histograms `knocker_receive_duration_seconds`, `knocker_handler_duration_seconds`,
    /// `knocker_enqueue_to_handled_seconds`; gauges `knocker_events{endpoint,status}`,
    /// `knocker_claimable_events`, `knocker_oldest_claimable_age_seconds`,
    /// `knocker_processing_events{endpoint}`, `knocker_dead_events{endpoint}`,
    /// `knocker_orphan_deliveries`.
    pub fn prometheus_text(&self) -> Result<String> {
        Ok(render_prometheus(&self.metrics()?))
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn fmt_f64(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    header(out, name, "histogram", help);
    for (b, c) in &h.buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {c}", fmt_f64(*b));
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", fmt_f64(h.sum_s));
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// Renders a snapshot in the Prometheus text format 0.0.4.
pub fn render_prometheus(m: &MetricsSnapshot) -> String {
    let mut out = String::with_capacity(4096);
    header(&mut out, "knocker_receipts_total", "counter", "Receipts answered by receive/ingest, by endpoint and outcome.");
    for (ep, e) in &m.endpoints {
        for (o, v) in &e.receipts {
            let _ = writeln!(out, "knocker_receipts_total{{endpoint=\"{}\",outcome=\"{o}\"}} {v}", esc(ep));
        }
    }
    let _ = writeln!(out, "knocker_receipts_total{{endpoint=\"\",outcome=\"unknown_endpoint\"}} {}", m.unknown_endpoint_receipts);
    header(&mut out, "knocker_invalid_receipts_total", "counter", "Invalid (401) receipts by endpoint and error code.");
    for (ep, e) in &m.endpoints {
        for (code, v) in &e.invalid_by_error_code {
            let _ = writeln!(out, "knocker_invalid_receipts_total{{endpoint=\"{}\",error_code=\"{}\"}} {v}", esc(ep), esc(code));
        }
    }
    header(&mut out, "knocker_receive_errors_total", "counter", "receive/ingest calls that returned an error instead of a status.");
    let _ = writeln!(out, "knocker_receive_errors_total {}", m.receive_errors);
    header(&mut out, "knocker_handler_attempts_total", "counter", "Committed handler attempts by endpoint and outcome.");
    for (ep, e) in &m.endpoints {
        for (o, v) in &e.handler_attempts {
            let _ = writeln!(out, "knocker_handler_attempts_total{{endpoint=\"{}\",outcome=\"{o}\"}} {v}", esc(ep));
        }
    }
    header(&mut out, "knocker_dead_letters_total", "counter", "Events moved to dead by this process's workers.");
    for (ep, e) in &m.endpoints {
        let _ = writeln!(out, "knocker_dead_letters_total{{endpoint=\"{}\"}} {}", esc(ep), e.dead_letters);
    }
    header(&mut out, "knocker_retries_total", "counter", "Retries scheduled after failed attempts.");
    for (ep, e) in &m.endpoints {
        let _ = writeln!(out, "knocker_retries_total{{endpoint=\"{}\"}} {}", esc(ep), e.retries);
    }
    histogram(&mut out, "knocker_receive_duration_seconds", "Time spent in receive/ingest (verify and commit).", &m.receive_duration);
    histogram(&mut out, "knocker_handler_duration_seconds", "Time spent in handlers.", &m.handler_duration);
    histogram(
        &mut out,
        "knocker_enqueue_to_handled_seconds",
        "From when an event became due (receipt, or its retry time) to its handled commit.",
        &m.enqueue_to_handled,
    );
    out.push_str(&render_prometheus_gauges(&m.stats));
    out
}

/// The gauge part of the exposition, from [`Knocker::stats`] alone (what the operator CLI prints
/// with `knocker stats --prometheus`, e.g. for node_exporter's textfile collector).
pub fn render_prometheus_gauges(s: &Stats) -> String {
    let mut out = String::with_capacity(1024);
    header(&mut out, "knocker_events", "gauge", "Events in the file by endpoint and status.");
    for (ep, by) in &s.by_endpoint {
        for (st, n) in by {
            let _ = writeln!(out, "knocker_events{{endpoint=\"{}\",status=\"{}\"}} {n}", esc(ep), esc(st));
        }
    }
    header(&mut out, "knocker_claimable_events", "gauge", "Events a worker could claim now (queue depth).");
    let _ = writeln!(out, "knocker_claimable_events {}", s.claimable);
    header(&mut out, "knocker_oldest_claimable_age_seconds", "gauge", "Age of the oldest claimable event since it became due (0 when none).");
    let _ = writeln!(out, "knocker_oldest_claimable_age_seconds {}", s.oldest_claimable_age_s.unwrap_or(0));
    header(&mut out, "knocker_processing_events", "gauge", "Events currently leased by a worker, by endpoint.");
    for (ep, by) in &s.by_endpoint {
        let _ = writeln!(out, "knocker_processing_events{{endpoint=\"{}\"}} {}", esc(ep), by.get("processing").copied().unwrap_or(0));
    }
    header(&mut out, "knocker_dead_events", "gauge", "Dead-lettered events in the file, by endpoint.");
    for (ep, by) in &s.by_endpoint {
        let _ = writeln!(out, "knocker_dead_events{{endpoint=\"{}\"}} {}", esc(ep), by.get("dead").copied().unwrap_or(0));
    }
    header(&mut out, "knocker_orphan_deliveries", "gauge", "Deliveries not linked to an event (invalid, oversize, disabled).");
    let _ = writeln!(out, "knocker_orphan_deliveries {}", s.orphan_deliveries);
    out
}

impl Knocker {
    /// Hook after a handler batch committed: one count per outcome, with the event's endpoint.
    pub(crate) fn record_batch_metrics(&self, views: &[Option<(crate::model::Event, std::result::Result<crate::model::Event, String>)>], outcomes: &[Outcome]) {
        let now = self.now_ms();
        for (view, o) in views.iter().zip(outcomes) {
            if let Some((event, _)) = view {
                self.inner.metrics.record_outcome(&event.endpoint, o, event.run_at_ms, now);
                log_outcome(event, o, now);
            }
        }
    }

    /// Hook after `complete` (a handler that ran outside the transaction, e.g. async in Node or
    /// Python): the handler duration is measured from `started_ms` on the handle's clock.
    pub(crate) fn record_completed_metrics(&self, event: &crate::model::Event, o: &Outcome, started_ms: i64) {
        let now = self.now_ms();
        if !matches!(o, Outcome::Skipped) {
            self.inner.metrics.handler_duration.observe(Duration::from_millis((now - started_ms).max(0) as u64));
        }
        self.inner.metrics.record_outcome(&event.endpoint, o, event.run_at_ms, now);
        log_outcome(event, o, now);
    }
}

/// The log events of committed outcomes (see logs.rs); `attempt_count` is the attempt that ran.
fn log_outcome(event: &crate::model::Event, o: &Outcome, now: i64) {
    match o {
        Outcome::Dead { error } => {
            tracing::warn!(event_id = event.id, endpoint = %event.endpoint, attempt = event.attempt_count, error = %error, "event dead-lettered")
        }
        Outcome::Failed { error, run_at_ms } => tracing::info!(
            event_id = event.id, endpoint = %event.endpoint, attempt = event.attempt_count, error = %error,
            retry_in_ms = run_at_ms - now, "handler failed, retry scheduled"
        ),
        _ => {}
    }
}
