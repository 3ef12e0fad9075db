//! # knocker
//!
//! Store first. Ack fast. Process later. An embeddable inbound-webhook inbox on one SQLite
//! file: [`Knocker::receive`] verifies the provider's signature, stores the raw receipt and
//! dedupes it into an event in one transaction before your route answers; a worker runs your
//! handler later, with retries, dead-lettering and operator recovery.
//!
//! ```
//! use knocker::{Knocker, Endpoint, Request, Event, Transaction};
//!
//! # fn main() -> knocker::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("app.sqlite");
//! let inbox = Knocker::builder(path.to_str().unwrap()).max_attempts(5).open()?;
//! inbox.add_endpoint(
//!     Endpoint::new("github", "/hooks/github")
//!         .provider("generic-hmac")
//!         .secret("s3cret")
//!         .option("header", "X-Hub-Signature-256"),
//! )?;
//!
//! // In the HTTP route: answer with `result.status_code`.
//! let body = br#"{"action":"opened"}"#;
//! let signature = knocker::testing::hmac_sha256_hex(b"s3cret", body);
//! let result = inbox.receive(
//!     "github",
//!     Request::post(body).header("X-Hub-Signature-256", format!("sha256={signature}")),
//! )?;
//! assert_eq!(result.status_code, 204);
//!
//! // In the worker: business writes go through `tx` and commit with the `handled` transition.
//! inbox.execute_batch("CREATE TABLE IF NOT EXISTS seen (event_id INTEGER PRIMARY KEY)")?;
//! inbox.handle("github", None, |event: &Event, tx: &Transaction| {
//!     tx.execute("INSERT INTO seen (event_id) VALUES (?1)", &[event.id.into()])?;
//!     Ok(())
//! });
//! assert_eq!(inbox.drain(None)?, 1);
//! # Ok(()) }
//! ```
//!
//! All semantics live in [`knocker_core`]; this crate is the idiomatic Rust surface over it.

use std::sync::Arc;
use std::time::Duration;

/// The `knocker` operator CLI (the `knocker` binary); not a stable library API.
#[doc(hidden)]
pub mod cli;

pub use knocker_core::{
    provider, AuditFilter, Attempt, BulkAction, BulkResult, Claim, OperatorAudit, OperatorAuditFilter, Delivery, DeliveryFilter, EndpointConfig as Endpoint, Error, Event,
    EventFilter, HandlerError, IngestResult, Outcome, Pairs, PruneAudit, PruneDeliveriesResult, PruneEvents,
    PruneEventsResult, PruneOrphans, Result, MetricsSnapshot, EndpointMetrics, HistogramSnapshot, TraceParent, RetentionPass, RetentionPolicy, RetryPolicy, Secret, SqlValue, Stats,
    Status, StopSignal, Synchronous, TrustedOutcome, WorkerOptions, WorkerState, SCHEMA_VERSION,
};
pub use knocker_core::options::{
    Clock, SystemClock, BACKOFF_BASE_S_DEFAULT, BACKOFF_MAX_S_DEFAULT, BUSY_TIMEOUT_MS_DEFAULT, CLAIM_BATCH_DEFAULT,
    IDLE_POLL_MS_DEFAULT, MAX_ATTEMPTS_DEFAULT, MAX_BODY_BYTES_DEFAULT, VISIBILITY_TIMEOUT_S_DEFAULT,
};
pub use knocker_core::provider::Provider;

/// The handler's transaction. Writes through it commit together with the `handled`
/// transition; a handler error rolls them back.
pub type Transaction<'a> = knocker_core::HandlerTx<'a>;

/// A webhook request as your HTTP framework hands it over.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    inner: knocker_core::Receipt<'a>,
}

impl<'a> Request<'a> {
    /// A POST with this raw body (verify the exact bytes you received; never a re-serialised
    /// JSON value).
    pub fn post(body: &'a [u8]) -> Self {
        Request { inner: knocker_core::Receipt::new(body) }
    }
    /// Sets the method.
    pub fn method(mut self, method: &'a str) -> Self {
        self.inner.method = method;
        self
    }
    /// The public URL the provider called (Twilio signs it).
    pub fn url(mut self, url: &'a str) -> Self {
        self.inner.url = Some(url);
        self
    }
    /// Adds a header (names are matched case-insensitively).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.headers.push(name, value);
        self
    }
    /// Adds a query parameter (repeated keys are kept).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.query.push(name, value);
        self
    }
    /// Overrides the event type the provider extracted.
    pub fn event_type(mut self, t: impl Into<String>) -> Self {
        self.inner.event_type = Some(t.into());
        self
    }
    /// Overrides the provider event id.
    pub fn provider_event_id(mut self, id: impl Into<String>) -> Self {
        self.inner.provider_event_id = Some(id.into());
        self
    }
    /// Overrides the provider delivery id.
    pub fn provider_delivery_id(mut self, id: impl Into<String>) -> Self {
        self.inner.provider_delivery_id = Some(id.into());
        self
    }
    /// An explicit dedupe key: it wins over key functions and the provider's idempotency key.
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.inner.dedupe_key = Some(key.into());
        self
    }
}

/// Builder for [`Knocker`] options. Every default is a named constant of this crate.
#[derive(Debug, Clone)]
pub struct Builder {
    path: String,
    options: knocker_core::Options,
}

impl Builder {
    /// How long to wait for SQLite's write lock (default [`BUSY_TIMEOUT_MS_DEFAULT`]).
    pub fn busy_timeout(mut self, d: Duration) -> Self {
        self.options.busy_timeout_ms = d.as_millis().min(u32::MAX as u128) as u32;
        self
    }
    /// `Synchronous::Full` survives power loss at one fsync per commit; `Normal` (default)
    /// survives application crashes.
    pub fn synchronous(mut self, s: Synchronous) -> Self {
        self.options.synchronous = s;
        self
    }
    /// Lease length of a claimed event (default [`VISIBILITY_TIMEOUT_S_DEFAULT`]).
    pub fn visibility_timeout(mut self, d: Duration) -> Self {
        self.options.visibility_timeout_s = d.as_secs_f64();
        self
    }
    /// Attempts per event cycle for endpoints that do not set their own.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.options.retry.max_attempts = n;
        self
    }
    /// Backoff base and cap: the delay after attempt n lies in
    /// [0.5, 1.0] × min(max, base × 2^(n-1)).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.options.retry.backoff_base_s = base.as_secs_f64();
        self.options.retry.backoff_max_s = max.as_secs_f64();
        self
    }
    /// Events claimed per claim transaction.
    pub fn claim_batch(mut self, n: u32) -> Self {
        self.options.claim_batch = n;
        self
    }
    /// Handlers per worker transaction, each in its own SAVEPOINT (1: one commit per event), and
    /// the time after which a batch stops taking more events.
    pub fn handler_batch(mut self, n: u32, max: Duration) -> Self {
        self.options.handler_batch = n;
        self.options.handler_batch_max_ms = max.as_millis() as u64;
        self
    }
    /// Largest stored body for endpoints that do not set their own.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.options.max_body_bytes = n;
        self
    }
    /// How often idle workers look for work written by other processes.
    pub fn idle_poll(mut self, d: Duration) -> Self {
        self.options.idle_poll_ms = d.as_millis() as u64;
        self
    }
    /// Injects a clock (tests, deterministic replays).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options.clock = clock;
        self
    }
    /// Opens the file, applying pragmas and migrations.
    pub fn open(self) -> Result<Knocker> {
        Ok(Knocker { core: knocker_core::Knocker::open_with(&self.path, self.options)? })
    }
}

/// A handle on one Knocker SQLite file. Clone it freely; keep one per process.
#[derive(Debug, Clone)]
pub struct Knocker {
    core: knocker_core::Knocker,
}

impl Knocker {
    /// Opens (or creates) a Knocker file with default options.
    pub fn open(path: &str) -> Result<Knocker> {
        Builder { path: path.to_string(), options: Default::default() }.open()
    }

    /// Options builder.
    pub fn builder(path: &str) -> Builder {
        Builder { path: path.to_string(), options: Default::default() }
    }

    /// The core handle, for the step-wise worker API ([`knocker_core::Knocker::claim`], ...).
    pub fn core(&self) -> &knocker_core::Knocker {
        &self.core
    }

    /// Adds or updates an endpoint; secrets stay in this handle, never in the file.
    pub fn add_endpoint(&self, endpoint: Endpoint) -> Result<()> {
        self.core.add_endpoint(endpoint)
    }

    /// Registers an app-local provider under a name that is not curated.
    pub fn register_provider(&self, provider: Arc<dyn Provider>) -> Result<()> {
        self.core.register_provider(provider)
    }

    /// Curated provider versions.
    pub fn provider_versions(&self) -> std::collections::BTreeMap<String, String> {
        self.core.provider_versions()
    }

    /// Verifies and stores one receipt. Answer the provider with `status_code` (and
    /// `response_body` when set).
    pub fn receive(&self, endpoint: &str, request: Request<'_>) -> Result<IngestResult> {
        self.core.receive(endpoint, &request.inner)
    }

    /// Stores one receipt whose verification the caller already decided.
    pub fn ingest(&self, endpoint: &str, request: Request<'_>, outcome: TrustedOutcome) -> Result<IngestResult> {
        self.core.ingest(endpoint, &request.inner, outcome)
    }

    /// Registers a handler for an endpoint and event type (`None`: endpoint-wide).
    pub fn handle<F>(&self, endpoint: &str, event_type: Option<&str>, handler: F)
    where
        F: Fn(&Event, &Transaction<'_>) -> std::result::Result<(), HandlerError> + Send + Sync + 'static,
    {
        self.core.handle(endpoint, event_type, Arc::new(handler));
    }

    /// Processes until nothing is claimable (or `max_events`); returns how many were processed.
    pub fn drain(&self, max_events: Option<usize>) -> Result<usize> {
        self.core.drain(max_events)
    }

    /// Runs a worker loop on this thread until `stop` is set.
    pub fn run_worker(&self, options: &WorkerOptions, stop: &StopSignal, on_error: impl FnMut(&Error)) -> Result<()> {
        self.core.run_worker(options, stop, on_error)
    }

    /// Starts a worker loop on a new thread; set the returned signal to stop it and join.
    pub fn spawn_worker(&self, options: WorkerOptions) -> (StopSignal, std::thread::JoinHandle<Result<()>>) {
        let stop = StopSignal::new();
        let (k, s) = (self.core.clone(), stop.clone());
        let handle = std::thread::spawn(move || k.run_worker(&options, &s, |_| {}));
        (stop, handle)
    }

    /// Local worker snapshots.
    pub fn worker_states(&self) -> Vec<WorkerState> {
        self.core.worker_states()
    }

    /// One event by id.
    pub fn get_event(&self, id: i64) -> Result<Event> {
        self.core.get_event(id)
    }
    /// Events, newest first.
    pub fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        self.core.list_events(filter)
    }
    /// One delivery by id.
    pub fn get_delivery(&self, id: i64) -> Result<Delivery> {
        self.core.get_delivery(id)
    }
    /// Deliveries, newest first.
    pub fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        self.core.list_deliveries(filter)
    }
    /// Attempt history of an event.
    pub fn list_attempts(&self, event_id: i64) -> Result<Vec<Attempt>> {
        self.core.list_attempts(event_id)
    }
    /// Operator: ignore an event (received, failed, dead).
    pub fn ignore(&self, event_id: i64) -> Result<()> {
        self.core.ignore(event_id)
    }
    /// Operator: run an event again with its canonical payload (handled, failed, dead, ignored).
    pub fn replay(&self, event_id: i64) -> Result<()> {
        self.core.replay(event_id)
    }
    /// Operator: retry a failed, dead or ignored event now with a fresh attempt budget.
    pub fn requeue(&self, event_id: i64) -> Result<()> {
        self.core.requeue(event_id)
    }
    /// Operator: run the linked event's handler with this delivery's payload.
    pub fn replay_delivery(&self, delivery_id: i64) -> Result<()> {
        self.core.replay_delivery(delivery_id)
    }
    /// Retention: prune terminal events (with deliveries and attempts) and audit it.
    pub fn prune_events(&self, p: &PruneEvents) -> Result<PruneEventsResult> {
        self.core.prune_events(p)
    }
    /// Retention: prune orphan deliveries and audit it.
    pub fn prune_orphan_deliveries(&self, p: &PruneOrphans) -> Result<PruneDeliveriesResult> {
        self.core.prune_orphan_deliveries(p)
    }
    /// Prune audit rows, newest first.
    pub fn list_prune_audits(&self, filter: &AuditFilter) -> Result<Vec<PruneAudit>> {
        self.core.list_prune_audits(filter)
    }
    /// Runs retention passes every `policy.interval_s` until `stop` is set; one process at a
    /// time per interval across the file. A failed pass is passed to `on_error` and returned.
    pub fn run_retention(&self, policy: &RetentionPolicy, stop: &StopSignal, on_error: impl FnMut(&Error)) -> Result<()> {
        self.core.run_retention(policy, stop, on_error)
    }
    /// One retention pass now, unless another process holds the file-wide retention lease
    /// (`ran == false` then).
    pub fn run_retention_pass(&self, policy: &RetentionPolicy) -> Result<RetentionPass> {
        self.core.run_retention_pass(policy, &format!("rust-{}", std::process::id()))
    }
    /// A clone whose operator actions are audited as done by `actor` (`"cli:alice"`, `"admin-ui"`).
    pub fn with_actor(&self, actor: &str) -> Knocker {
        Knocker { core: self.core.with_actor(actor) }
    }
    /// Operator audit rows (who did what, when, to which ids), newest first.
    pub fn list_operator_audits(&self, filter: &OperatorAuditFilter) -> Result<Vec<OperatorAudit>> {
        self.core.list_operator_audits(filter)
    }
    /// `ignore`, `replay` or `requeue` every event matching `filter` (oldest first, up to
    /// `filter.limit`) in one transaction with one audit row; `dry_run` only lists the ids.
    pub fn bulk(&self, action: BulkAction, filter: &EventFilter, dry_run: bool) -> Result<BulkResult> {
        self.core.bulk(action, filter, dry_run)
    }
    /// The curated provider catalogue (name, version, algorithm, options, docs).
    pub fn provider_catalogue() -> Vec<provider::ProviderInfo> {
        knocker_core::Knocker::provider_catalogue()
    }
    /// Queue health.
    pub fn stats(&self) -> Result<Stats> {
        self.core.stats()
    }
    /// Process-local counters and histograms of this handle, plus the file's gauges.
    pub fn metrics(&self) -> Result<MetricsSnapshot> {
        self.core.metrics()
    }
    /// The Prometheus text exposition (0.0.4) of [`Knocker::metrics`], for a `/metrics` route.
    pub fn prometheus_text(&self) -> Result<String> {
        self.core.prometheus_text()
    }
    /// Runs app SQL (schema set-up) on Knocker's own writer connection, in one transaction.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.core.execute_batch(sql)
    }
    /// Closes every connection.
    pub fn close(&self) {
        self.core.close()
    }
}

/// OpenTelemetry bridge (feature `otel`): makes each handler span (`knocker.handle`) a child of
/// the W3C trace context its webhook arrived with, so one trace crosses the queue.
///
/// Install it once, next to your `tracing_opentelemetry` layer:
/// `knocker::otel::install();`
#[cfg(feature = "otel")]
pub mod otel {
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    /// Installs the process-wide span-parent hook. Returns false when a hook was already set.
    pub fn install() -> bool {
        knocker_core::trace::set_span_parent_hook(link)
    }

    fn link(span: &tracing::Span, tp: &knocker_core::trace::TraceParent) {
        let (Ok(trace_id), Ok(span_id)) = (TraceId::from_hex(&tp.trace_id), SpanId::from_hex(&tp.parent_span_id)) else {
            return;
        };
        let remote = SpanContext::new(trace_id, span_id, TraceFlags::new(tp.flags), true, TraceState::default());
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
}

/// Helpers for tests and examples: sign requests the way providers do.
pub mod testing {
    /// Hex HMAC-SHA256 of `body` under `secret`.
    pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
        let mac = knocker_core::providers::util::hmac(knocker_core::providers::util::HmacAlgorithm::Sha256, secret, &[body]);
        mac.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The Rust code blocks of the book (`docs/src`), compiled and run as doc tests:
/// `cargo test -p knocker --doc book::` (part of `make docs-test`). `docs/tools/snippets.py`
/// fails when a page with Rust blocks is missing here.
#[cfg(doctest)]
pub mod book {
    #[doc = include_str!("../../docs/src/quickstart/rust.md")]
    pub mod quickstart_rust {}
    #[doc = include_str!("../../docs/src/recipes/rust.md")]
    pub mod recipes_rust {}
    #[doc = include_str!("../../docs/src/ingress/generic-hmac.md")]
    pub mod ingress_generic_hmac {}
    #[doc = include_str!("../../docs/src/ingress/rotation.md")]
    pub mod ingress_rotation {}
    #[doc = include_str!("../../docs/src/ingress/custom-providers.md")]
    pub mod ingress_custom_providers {}
    #[doc = include_str!("../../docs/src/rust/operator-surface.md")]
    pub mod rust_operator_surface {}
    #[doc = include_str!("../../docs/src/rust/runbook.md")]
    pub mod rust_runbook {}
    #[doc = include_str!("../../docs/src/rust/retention.md")]
    pub mod rust_retention {}
    #[doc = include_str!("../../docs/src/rust/worker.md")]
    pub mod rust_worker {}
    #[doc = include_str!("../../docs/src/rust/observability.md")]
    pub mod rust_observability {}
}
