//! Native half of the Node binding. It only converts types, maps errors and adapts calls into
//! JavaScript; every rule about statuses, retries, dedupe and verification is knocker-core's.
//!
//! JavaScript callbacks (handlers, app-local providers, key functions) must run on the JS
//! thread. The facade (`index.js`) passes one `dispatch` function into each native call that may
//! reach such a callback; it is kept in a thread-local for the duration of that call, and the
//! shims registered in core call it. A shim reached without a dispatcher (off the JS thread)
//! fails cleanly instead of touching JavaScript.

#![allow(clippy::new_without_default)]

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use knocker_core as core;
use knocker_core::provider::{codes, Metadata, ProviderOptions, Rejection, Request, Verification, VerifyContext};
use knocker_core::{
    Claim, EndpointConfig, Error as CoreError, Event, Handler, HandlerError, HandlerTx, Knocker, Pairs, Provider, Receipt,
    RetryPolicy, Secret, SqlValue, TrustedOutcome,
};
use napi::bindgen_prelude::*;
use napi::{sys, Env, JsValue};
use napi_derive::napi;

// ---------------------------------------------------------------------------------------------
// Errors: "[code] message"; the facade turns these into KnockerError with `code`.
// ---------------------------------------------------------------------------------------------

fn kerr(e: CoreError) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("[{}] {}", e.code(), e))
}

fn invalid(msg: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("[invalid_argument] invalid argument: {msg}"))
}

// ---------------------------------------------------------------------------------------------
// The JS-thread dispatcher and the current handler transaction.
// ---------------------------------------------------------------------------------------------

thread_local! {
    static DISPATCH: Cell<Option<(sys::napi_env, sys::napi_value)>> = const { Cell::new(None) };
    static CURRENT_TX: Cell<*const HandlerTx<'static>> = const { Cell::new(std::ptr::null()) };
}

struct DispatchGuard(Option<(sys::napi_env, sys::napi_value)>);

impl DispatchGuard {
    fn set(f: Option<&Function<'_>>) -> DispatchGuard {
        let prev = DISPATCH.with(|d| d.get());
        if let Some(f) = f {
            let v = f.value();
            DISPATCH.with(|d| d.set(Some((v.env, v.value))));
        }
        DispatchGuard(prev)
    }
}

impl Drop for DispatchGuard {
    fn drop(&mut self) {
        DISPATCH.with(|d| d.set(self.0));
    }
}

fn dispatcher<Args: JsValuesTupleIntoVec, R: FromNapiValue>() -> Option<Function<'static, Args, R>> {
    let (env, value) = DISPATCH.with(|d| d.get())?;
    unsafe { Function::<Args, R>::from_napi_value(env, value).ok() }
}

// ---------------------------------------------------------------------------------------------
// SQL values in and out
// ---------------------------------------------------------------------------------------------

/// A statement parameter: number (integral → INTEGER), bigint, string, boolean, Buffer, null.
pub struct SqlParam(SqlValue);

impl TypeName for SqlParam {
    fn type_name() -> &'static str {
        "SqlParam"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}
impl ValidateNapiValue for SqlParam {}

impl FromNapiValue for SqlParam {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let mut t = 0;
        sys::napi_typeof(env, v, &mut t);
        Ok(SqlParam(match t {
            sys::ValueType::napi_null | sys::ValueType::napi_undefined => SqlValue::Null,
            sys::ValueType::napi_boolean => SqlValue::Integer(bool::from_napi_value(env, v)? as i64),
            sys::ValueType::napi_number => {
                let f = f64::from_napi_value(env, v)?;
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_991.0 {
                    SqlValue::Integer(f as i64)
                } else {
                    SqlValue::Real(f)
                }
            }
            sys::ValueType::napi_bigint => SqlValue::Integer(BigInt::from_napi_value(env, v)?.get_i64().0),
            sys::ValueType::napi_string => SqlValue::Text(String::from_napi_value(env, v)?),
            _ => {
                let mut is_buf = false;
                sys::napi_is_buffer(env, v, &mut is_buf);
                if is_buf {
                    SqlValue::Blob(Buffer::from_napi_value(env, v)?.to_vec())
                } else {
                    let mut is_ta = false;
                    sys::napi_is_typedarray(env, v, &mut is_ta);
                    if is_ta {
                        SqlValue::Blob(Uint8Array::from_napi_value(env, v)?.to_vec())
                    } else {
                        return Err(invalid("SQL parameters must be numbers, bigints, strings, booleans, Buffers or null"));
                    }
                }
            }
        }))
    }
}

fn sql_to_js(env: sys::napi_env, v: SqlValue) -> Result<sys::napi_value> {
    unsafe {
        match v {
            SqlValue::Null => Null::to_napi_value(env, Null),
            SqlValue::Integer(i) => i64::to_napi_value(env, i),
            SqlValue::Real(f) => f64::to_napi_value(env, f),
            SqlValue::Text(s) => String::to_napi_value(env, s),
            SqlValue::Blob(b) => Buffer::to_napi_value(env, Buffer::from(b)),
        }
    }
}

/// Result rows as plain objects, columns in order.
pub struct SqlRows(Vec<core::SqlRow>);

impl TypeName for SqlRows {
    fn type_name() -> &'static str {
        "Array<Record<string, unknown>>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for SqlRows {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut arr = std::ptr::null_mut();
        sys::napi_create_array_with_length(env, val.0.len(), &mut arr);
        for (i, row) in val.0.into_iter().enumerate() {
            let mut obj = std::ptr::null_mut();
            sys::napi_create_object(env, &mut obj);
            for (name, value) in row {
                let k = String::to_napi_value(env, name)?;
                let v = sql_to_js(env, value)?;
                sys::napi_set_property(env, obj, k, v);
            }
            sys::napi_set_element(env, arr, i as u32, obj);
        }
        Ok(arr)
    }
}

// ---------------------------------------------------------------------------------------------
// Data shapes
// ---------------------------------------------------------------------------------------------

/// Options of `open` (camelCase of the core option names).
#[napi(object)]
#[derive(Default)]
pub struct OpenOptions {
    pub busy_timeout_ms: Option<u32>,
    /// "normal" (default) or "full".
    pub synchronous: Option<String>,
    pub visibility_timeout_s: Option<f64>,
    pub max_attempts: Option<u32>,
    pub backoff_base_s: Option<f64>,
    pub backoff_max_s: Option<f64>,
    pub claim_batch: Option<u32>,
    pub max_readers: Option<u32>,
    pub max_body_bytes: Option<f64>,
    pub idle_poll_ms: Option<u32>,
    /// Handlers per worker transaction (1: one commit per event).
    pub handler_batch: Option<u32>,
    /// A handler batch stops taking events after this long.
    pub handler_batch_max_ms: Option<u32>,
    /// Who operator actions through this handle are audited as (default "app").
    pub actor: Option<String>,
}

#[napi(object)]
pub struct NativeEndpoint {
    pub name: String,
    pub path: String,
    pub provider: Option<String>,
    pub secrets: Option<Vec<Buffer>>,
    pub provider_options: Option<serde_json::Value>,
    pub enabled: Option<bool>,
    pub verification_required: Option<bool>,
    pub max_body_bytes: Option<f64>,
    pub max_attempts: Option<u32>,
    pub backoff_base_s: Option<f64>,
    pub backoff_max_s: Option<f64>,
    pub body_hash_dedupe: Option<bool>,
    /// Which key functions the JS side holds for this endpoint (called through dispatch).
    pub key_functions: Option<Vec<String>>,
}

#[napi(object)]
pub struct NativeReceipt {
    pub endpoint: String,
    pub body: Buffer,
    pub headers: Vec<Vec<String>>,
    pub query: Vec<Vec<String>>,
    pub method: Option<String>,
    pub url: Option<String>,
    pub event_type: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub dedupe_key: Option<String>,
    /// `ingest` only: true, false, or null/absent = not verified.
    pub signature_valid: Option<bool>,
    pub signature_error: Option<String>,
}

#[napi(object, use_nullable = true)]
pub struct ReceiveResult {
    /// Null only for an unknown endpoint (nothing stored).
    pub delivery_id: Option<i64>,
    pub event_id: Option<i64>,
    pub duplicate: bool,
    pub status_code: u32,
    /// A body to answer with (handshakes); null means an empty body.
    pub response_body: Option<Buffer>,
    pub response_content_type: Option<String>,
    /// Stable code of why the receipt was not accepted, if it was not.
    pub error_code: Option<String>,
}

impl From<core::IngestResult> for ReceiveResult {
    fn from(r: core::IngestResult) -> Self {
        ReceiveResult {
            delivery_id: r.delivery_id,
            event_id: r.event_id,
            duplicate: r.duplicate,
            status_code: r.status_code as u32,
            response_body: r.response_body.map(Buffer::from),
            response_content_type: r.response_content_type,
            error_code: r.error_code,
        }
    }
}

fn pairs_to_object(p: &Pairs) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = HashMap::new();
    for (k, v) in p.iter() {
        m.entry(k.to_ascii_lowercase()).and_modify(|e| {
            e.push_str(", ");
            e.push_str(v);
        }).or_insert_with(|| v.to_string());
    }
    m
}

fn pairs_to_vec(p: &Pairs) -> Vec<Vec<String>> {
    p.iter().map(|(k, v)| vec![k.to_string(), v.to_string()]).collect()
}

fn vec_to_pairs(v: Vec<Vec<String>>) -> Result<Pairs> {
    let mut p = Pairs::new();
    for kv in v {
        if kv.len() != 2 {
            return Err(invalid("headers and query must be [name, value] pairs"));
        }
        let mut it = kv.into_iter();
        p.push(it.next().unwrap(), it.next().unwrap());
    }
    Ok(p)
}

/// An event as stored (the row is the job).
#[napi(object, use_nullable = true)]
pub struct JsEvent {
    pub id: i64,
    pub endpoint: String,
    pub event_type: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub dedupe_key: Option<String>,
    /// received | processing | handled | failed | dead | ignored
    pub status: String,
    pub attempt_count: i64,
    pub max_attempts: i64,
    pub method: String,
    pub url: Option<String>,
    /// Header names lower-cased (as Node's `req.headers`); repeated headers joined with ", ".
    pub headers: HashMap<String, String>,
    /// Repeated keys joined with ",".
    pub query: HashMap<String, String>,
    pub body: Buffer,
    /// Unix seconds.
    pub received_at: i64,
    pub handled_at: Option<i64>,
    /// Unix milliseconds when the event next becomes claimable.
    pub run_at_ms: i64,
    pub last_error: Option<String>,
    pub replay_delivery_id: Option<i64>,
    pub lease_owner: Option<String>,
    /// W3C trace context (`traceparent` header) of the delivery this run sees, if it had one.
    pub traceparent: Option<String>,
}

impl From<Event> for JsEvent {
    fn from(e: Event) -> Self {
        let mut query: HashMap<String, String> = HashMap::new();
        for (k, v) in e.query.iter() {
            query.entry(k.to_string()).and_modify(|x| {
                x.push(',');
                x.push_str(v);
            }).or_insert_with(|| v.to_string());
        }
        JsEvent {
            id: e.id,
            endpoint: e.endpoint,
            event_type: e.event_type,
            provider_event_id: e.provider_event_id,
            provider_delivery_id: e.provider_delivery_id,
            dedupe_key: e.dedupe_key,
            status: e.status.as_str().to_string(),
            attempt_count: e.attempt_count,
            max_attempts: e.max_attempts,
            method: e.method,
            url: e.url,
            headers: pairs_to_object(&e.headers),
            query,
            body: Buffer::from(e.body),
            received_at: e.received_at,
            handled_at: e.handled_at,
            run_at_ms: e.run_at_ms,
            last_error: e.last_error,
            replay_delivery_id: e.replay_delivery_id,
            lease_owner: e.lease_owner,
            traceparent: e.traceparent,
        }
    }
}

/// One HTTP receipt as stored. Append-only.
#[napi(object, use_nullable = true)]
pub struct JsDelivery {
    pub id: i64,
    /// Null for an orphan (invalid signature, oversize, disabled endpoint, handshake).
    pub event_id: Option<i64>,
    pub endpoint: String,
    pub event_type: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub dedupe_key: Option<String>,
    pub method: String,
    pub url: Option<String>,
    pub headers: HashMap<String, String>,
    /// Headers exactly as received, in order, as [name, value] pairs.
    pub header_pairs: Vec<Vec<String>>,
    pub query: Vec<Vec<String>>,
    pub body: Buffer,
    pub body_size: i64,
    pub received_at: i64,
    /// true, false, or null (not verified).
    pub signature_valid: Option<bool>,
    pub signature_error: Option<String>,
    pub error_code: Option<String>,
    pub secret_index: Option<i64>,
    pub status_code: u32,
    /// W3C trace context (`traceparent` header) the request arrived with, if valid.
    pub traceparent: Option<String>,
}

impl From<core::Delivery> for JsDelivery {
    fn from(d: core::Delivery) -> Self {
        JsDelivery {
            id: d.id,
            event_id: d.event_id,
            endpoint: d.endpoint,
            event_type: d.event_type,
            provider_event_id: d.provider_event_id,
            provider_delivery_id: d.provider_delivery_id,
            dedupe_key: d.dedupe_key,
            method: d.method,
            url: d.url,
            headers: pairs_to_object(&d.headers),
            header_pairs: pairs_to_vec(&d.headers),
            query: pairs_to_vec(&d.query),
            body: Buffer::from(d.body),
            body_size: d.body_size,
            received_at: d.received_at,
            signature_valid: d.signature_valid,
            signature_error: d.signature_error,
            error_code: d.error_code,
            secret_index: d.secret_index,
            status_code: d.status_code as u32,
            traceparent: d.traceparent,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsAttempt {
    pub id: i64,
    pub event_id: i64,
    pub attempt_no: i64,
    pub worker_id: Option<String>,
    pub delivery_id: Option<i64>,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub duration_ms: i64,
    /// handled | failed | dead | ignored | lost
    pub outcome: String,
    pub error: Option<String>,
}

impl From<core::Attempt> for JsAttempt {
    fn from(a: core::Attempt) -> Self {
        JsAttempt {
            id: a.id,
            event_id: a.event_id,
            attempt_no: a.attempt_no,
            worker_id: a.worker_id,
            delivery_id: a.delivery_id,
            started_at_ms: a.started_at_ms,
            finished_at_ms: a.finished_at_ms,
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            error: a.error,
        }
    }
}

#[napi(object)]
#[derive(Default)]
pub struct EventFilter {
    pub status: Option<String>,
    pub endpoint: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before_id: Option<i64>,
    /// 1..1000, default 100.
    pub limit: Option<i64>,
}

#[napi(object)]
#[derive(Default)]
pub struct DeliveryFilter {
    pub event_id: Option<i64>,
    pub endpoint: Option<String>,
    pub signature_valid: Option<bool>,
    pub orphaned: Option<bool>,
    pub since: Option<i64>,
    pub limit: Option<i64>,
}

/// One operator mutation, with who did it.
#[napi(object)]
pub struct OperatorAudit {
    pub id: i64,
    /// ignore | replay | requeue | replay_delivery | bulk_* | prune_events | prune_orphan_deliveries | import
    pub action: String,
    pub actor: String,
    pub executed_at: i64,
    /// event | delivery
    pub target_kind: String,
    pub affected: i64,
    pub ids: Vec<i64>,
    pub filters_json: String,
}

#[napi(object)]
pub struct OperatorAuditFilter {
    pub action: Option<String>,
    pub since: Option<i64>,
    pub limit: Option<i64>,
}

#[napi(object)]
#[derive(Default)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub limit: Option<i64>,
}

#[napi(object)]
pub struct PruneEventsArgs {
    /// Subset of handled, ignored, dead.
    pub statuses: Vec<String>,
    /// Unix seconds; events received strictly before go.
    pub older_than: i64,
    pub limit: Option<i64>,
    pub dry_run: Option<bool>,
}

#[napi(object)]
pub struct PruneOrphansArgs {
    pub older_than: i64,
    pub limit: Option<i64>,
    pub dry_run: Option<bool>,
}

#[napi(object, use_nullable = true)]
pub struct PruneEventsResult {
    pub events_pruned: i64,
    pub deliveries_pruned: i64,
    pub attempts_pruned: i64,
    pub dry_run: bool,
}

impl From<core::PruneEventsResult> for PruneEventsResult {
    fn from(r: core::PruneEventsResult) -> Self {
        PruneEventsResult {
            events_pruned: r.events_pruned,
            deliveries_pruned: r.deliveries_pruned,
            attempts_pruned: r.attempts_pruned,
            dry_run: r.dry_run,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct PruneDeliveriesResult {
    pub deliveries_pruned: i64,
    pub dry_run: bool,
}

impl From<core::PruneDeliveriesResult> for PruneDeliveriesResult {
    fn from(r: core::PruneDeliveriesResult) -> Self {
        PruneDeliveriesResult { deliveries_pruned: r.deliveries_pruned, dry_run: r.dry_run }
    }
}

#[napi(object, use_nullable = true)]
pub struct PruneAudit {
    pub id: i64,
    /// prune_events | prune_orphan_deliveries
    pub kind: String,
    pub executed_at: i64,
    pub events_pruned: Option<i64>,
    pub deliveries_pruned: i64,
    pub attempts_pruned: Option<i64>,
    /// The filters and counts of the prune, as JSON text.
    pub summary_json: String,
}

#[napi(object, use_nullable = true)]
pub struct Stats {
    pub by_status: HashMap<String, i64>,
    pub by_endpoint: HashMap<String, HashMap<String, i64>>,
    pub claimable: i64,
    pub oldest_claimable_age_s: Option<i64>,
    pub dead: i64,
    pub processing: i64,
    pub orphan_deliveries: i64,
}

/// Process-local counters of one endpoint (since this handle was opened).
#[napi(object)]
pub struct EndpointMetrics {
    /// By outcome: created, duplicate, invalid, too_large, disabled, handshake.
    pub receipts: HashMap<String, i64>,
    /// Invalid (401) receipts by error code (signature_mismatch, ...).
    pub invalid_by_error_code: HashMap<String, i64>,
    /// Committed handler attempts by outcome: handled, failed, dead, skipped.
    pub handler_attempts: HashMap<String, i64>,
    pub dead_letters: i64,
    pub retries: i64,
}

/// A fixed-bucket histogram: cumulative `[upperBoundSeconds, count]` pairs, count, sum.
#[napi(object)]
pub struct Histogram {
    pub buckets: Vec<Vec<f64>>,
    pub count: i64,
    pub sum_s: f64,
}

/// `metrics()`: counters and histograms of this handle plus the file's gauges (`stats`).
#[napi(object)]
pub struct Metrics {
    pub endpoints: HashMap<String, EndpointMetrics>,
    pub unknown_endpoint_receipts: i64,
    pub receive_errors: i64,
    pub receive_duration: Histogram,
    pub handler_duration: Histogram,
    pub enqueue_to_handled: Histogram,
    pub stats: Stats,
}

fn js_stats(s: core::Stats) -> Stats {
    Stats {
        by_status: s.by_status.into_iter().collect(),
        by_endpoint: s.by_endpoint.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect(),
        claimable: s.claimable,
        oldest_claimable_age_s: s.oldest_claimable_age_s,
        dead: s.dead,
        processing: s.processing,
        orphan_deliveries: s.orphan_deliveries,
    }
}

fn js_histogram(h: &core::HistogramSnapshot) -> Histogram {
    Histogram { buckets: h.buckets.iter().map(|(b, c)| vec![*b, *c as f64]).collect(), count: h.count as i64, sum_s: h.sum_s }
}

fn counts(m: &BTreeMap<String, u64>) -> HashMap<String, i64> {
    m.iter().map(|(k, v)| (k.clone(), *v as i64)).collect()
}

/// One core log event (see `installLogBridge`).
#[napi(object)]
pub struct LogRecord {
    /// ERROR, WARN, INFO, DEBUG or TRACE.
    pub level: String,
    pub target: String,
    pub message: String,
    pub fields: HashMap<String, String>,
}

/// Routes Knocker's core log events to `callback` on the JS thread (asynchronously, without
/// keeping the process alive). Once per process; returns false when already installed.
#[napi(ts_args_type = "callback: (record: LogRecord) => void")]
pub fn install_log_bridge(callback: Function<LogRecord, ()>) -> Result<bool> {
    use napi::threadsafe_function::ThreadsafeFunctionCallMode;
    let tsfn = callback.build_threadsafe_function::<LogRecord>().callee_handled::<false>().weak::<true>().build()?;
    Ok(core::logs::install_log_callback(
        core::logs::Level::DEBUG,
        Arc::new(move |r: &core::logs::LogRecord| {
            let rec = LogRecord {
                level: r.level.to_string(),
                target: r.target.clone(),
                message: r.message.clone(),
                fields: r.fields.iter().cloned().collect(),
            };
            tsfn.call(rec, ThreadsafeFunctionCallMode::NonBlocking);
        }),
    ))
}

#[napi(object, use_nullable = true)]
pub struct WorkerState {
    pub worker_id: String,
    pub running: bool,
    pub started_at: i64,
    pub current_event_id: Option<i64>,
    pub processed: i64,
    pub failed: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

#[napi(object)]
pub struct RetentionPolicy {
    /// Seconds between passes (default 3600).
    pub interval_s: Option<f64>,
    /// Default ["handled", "ignored"].
    pub event_statuses: Option<Vec<String>>,
    pub event_older_than_s: Option<i64>,
    pub event_limit: Option<i64>,
    pub orphan_deliveries_older_than_s: Option<i64>,
    pub orphan_deliveries_limit: Option<i64>,
}

#[napi(object, use_nullable = true)]
pub struct RetentionPass {
    /// False when another process held the retention lease for this interval.
    pub ran: bool,
    pub events: Option<PruneEventsResult>,
    pub orphans: Option<PruneDeliveriesResult>,
}

/// A claimed event (lease) as the facade's worker loop carries it between native calls.
#[napi(object)]
#[derive(Clone)]
pub struct JsClaim {
    pub event_id: i64,
    pub lease_token: String,
    pub attempt_no: i64,
    pub max_attempts: i64,
    pub endpoint_id: i64,
    pub claimed_at_ms: i64,
}

impl From<Claim> for JsClaim {
    fn from(c: Claim) -> Self {
        JsClaim {
            event_id: c.event_id,
            lease_token: c.lease_token,
            attempt_no: c.attempt_no,
            max_attempts: c.max_attempts,
            endpoint_id: c.endpoint_id,
            claimed_at_ms: c.claimed_at_ms,
        }
    }
}

impl From<JsClaim> for Claim {
    fn from(c: JsClaim) -> Self {
        Claim {
            event_id: c.event_id,
            lease_token: c.lease_token,
            attempt_no: c.attempt_no,
            max_attempts: c.max_attempts,
            endpoint_id: c.endpoint_id,
            claimed_at_ms: c.claimed_at_ms,
        }
    }
}

/// What one processed claim did.
#[napi(object, use_nullable = true)]
pub struct ProcessOutcome {
    /// handled | failed | dead | skipped
    pub outcome: String,
    pub error: Option<String>,
    pub run_at_ms: Option<i64>,
}

impl From<core::Outcome> for ProcessOutcome {
    fn from(o: core::Outcome) -> Self {
        match o {
            core::Outcome::Handled => ProcessOutcome { outcome: "handled".into(), error: None, run_at_ms: None },
            core::Outcome::Failed { error, run_at_ms } => {
                ProcessOutcome { outcome: "failed".into(), error: Some(error), run_at_ms: Some(run_at_ms) }
            }
            core::Outcome::Dead { error } => ProcessOutcome { outcome: "dead".into(), error: Some(error), run_at_ms: None },
            core::Outcome::Skipped => ProcessOutcome { outcome: "skipped".into(), error: None, run_at_ms: None },
        }
    }
}

/// A handler's result as the facade reports it (the facade catches every throw).
#[napi(object)]
pub struct HandlerResult {
    /// ok | failed | retry | discard
    pub kind: String,
    pub message: Option<String>,
    pub after_s: Option<f64>,
}

fn handler_result(r: HandlerResult) -> std::result::Result<(), HandlerError> {
    let msg = r.message.unwrap_or_default();
    match r.kind.as_str() {
        "ok" => Ok(()),
        "retry" => Err(HandlerError::RetryAfter { after_s: r.after_s.unwrap_or(0.0), reason: msg }),
        "discard" => Err(HandlerError::Discard(msg)),
        _ => Err(HandlerError::Failed(msg)),
    }
}

/// The request an app-local provider sees.
#[napi(object, use_nullable = true)]
pub struct VerifyRequest {
    pub method: String,
    pub url: Option<String>,
    pub headers: HashMap<String, String>,
    pub header_pairs: Vec<Vec<String>>,
    pub query: Vec<Vec<String>>,
    pub body: Buffer,
}

#[napi(object, use_nullable = true)]
pub struct VerifyContextJs {
    pub secrets: Vec<Buffer>,
    pub options: serde_json::Value,
    pub now_s: i64,
}

/// What an app-local provider returns (through the facade, which catches throws).
#[napi(object)]
pub struct VerifyResult {
    pub valid: bool,
    pub signature_error: Option<String>,
    /// Stable error code; default signature_mismatch (provider_error when the provider threw).
    pub error_code: Option<String>,
    pub secret_index: Option<i64>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub event_type: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Test helper output: a curated provider's verdict on one request at an injected time.
#[napi(object, use_nullable = true)]
pub struct VectorVerdict {
    pub valid: bool,
    pub error_code: Option<String>,
    pub secret_index: Option<i64>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub delivery_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub handshake: Option<serde_json::Value>,
}

#[napi(object, use_nullable = true)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub algorithm: String,
    pub idempotency_key: String,
    pub doc: String,
    pub doc_url: String,
    pub options: Vec<ProviderOptionInfo>,
}

#[napi(object, use_nullable = true)]
pub struct ProviderOptionInfo {
    pub key: String,
    /// string | integer | bool | string_list
    pub kind: String,
    pub default: Option<String>,
    pub doc: String,
}

// ---------------------------------------------------------------------------------------------
// Shims registered in core
// ---------------------------------------------------------------------------------------------

type HandleArgs = FnArgs<(String, String, Option<String>, JsEvent)>;

/// A handler registered from JS: core resolves it by key; calling it dispatches into JS.
struct JsHandlerShim {
    endpoint: String,
    event_type: Option<String>,
}

impl Handler for JsHandlerShim {
    fn handle(&self, event: &Event, tx: &HandlerTx<'_>) -> std::result::Result<(), HandlerError> {
        let Some(f) = dispatcher::<HandleArgs, HandlerResult>() else {
            return Err(HandlerError::Failed("JavaScript handler reached off the JS thread; use the Node worker (runWorker/drain)".into()));
        };
        let ptr = tx as *const HandlerTx<'_> as *const HandlerTx<'static>;
        let prev = CURRENT_TX.with(|c| c.replace(ptr));
        let r = f.call(FnArgs::from(("handle".to_string(), self.endpoint.clone(), self.event_type.clone(), JsEvent::from(event.clone()))));
        CURRENT_TX.with(|c| c.set(prev));
        match r {
            Ok(r) => handler_result(r),
            Err(e) => Err(HandlerError::Failed(format!("handler dispatch failed: {}", e.reason))),
        }
    }
}

type VerifyArgs = FnArgs<(String, String, VerifyRequest, VerifyContextJs)>;

struct JsProviderShim {
    name: String,
    version: String,
    requires_secrets: bool,
}

impl Provider for JsProviderShim {
    fn name(&self) -> &str {
        &self.name
    }
    fn version(&self) -> &str {
        &self.version
    }
    fn requires_secrets(&self) -> bool {
        self.requires_secrets
    }
    fn validate_options(&self, _options: &ProviderOptions) -> std::result::Result<(), String> {
        Ok(())
    }
    fn verify(&self, request: &Request<'_>, ctx: &VerifyContext<'_>) -> Verification {
        let Some(f) = dispatcher::<VerifyArgs, VerifyResult>() else {
            return Verification::invalid(
                Metadata::default(),
                Rejection::new(codes::PROVIDER_ERROR, "provider error: JavaScript provider reached off the JS thread"),
            );
        };
        let req = VerifyRequest {
            method: request.method.to_string(),
            url: request.url.map(str::to_string),
            headers: pairs_to_object(request.headers),
            header_pairs: pairs_to_vec(request.headers),
            query: pairs_to_vec(request.query),
            body: Buffer::from(request.body.to_vec()),
        };
        let jctx = VerifyContextJs {
            secrets: ctx.secrets.iter().map(|s| Buffer::from(s.expose().to_vec())).collect(),
            options: serde_json::Value::Object(ctx.options.clone()),
            now_s: ctx.now_s,
        };
        match f.call(FnArgs::from(("verify".to_string(), self.name.clone(), req, jctx))) {
            Ok(r) => {
                let meta = Metadata {
                    event_id: r.provider_event_id,
                    event_type: r.event_type,
                    delivery_id: r.provider_delivery_id,
                    idempotency_key: r.idempotency_key,
                };
                if r.valid {
                    Verification::valid(meta, r.secret_index.map(|i| i as usize))
                } else {
                    let code = r.error_code.unwrap_or_else(|| codes::SIGNATURE_MISMATCH.to_string());
                    Verification::invalid(meta, Rejection::new(code, r.signature_error.unwrap_or_else(|| "signature rejected by provider".into())))
                }
            }
            Err(e) => Verification::invalid(
                Metadata::default(),
                Rejection::new(codes::PROVIDER_ERROR, format!("provider error: {}", e.reason)),
            ),
        }
    }
}

type KeyArgs = FnArgs<(String, String, String, VerifyRequest)>;

fn key_fn(endpoint: String, which: &'static str) -> core::KeyFn {
    Arc::new(move |request: &Request<'_>| {
        let f = dispatcher::<KeyArgs, Option<String>>()?;
        let req = VerifyRequest {
            method: request.method.to_string(),
            url: request.url.map(str::to_string),
            headers: pairs_to_object(request.headers),
            header_pairs: pairs_to_vec(request.headers),
            query: pairs_to_vec(request.query),
            body: Buffer::from(request.body.to_vec()),
        };
        f.call(FnArgs::from(("key".to_string(), endpoint.clone(), which.to_string(), req))).ok().flatten()
    })
}

// ---------------------------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------------------------

struct Owned {
    endpoint: String,
    body: Vec<u8>,
    headers: Pairs,
    query: Pairs,
    method: String,
    url: Option<String>,
    event_type: Option<String>,
    provider_event_id: Option<String>,
    provider_delivery_id: Option<String>,
    dedupe_key: Option<String>,
    trusted: Option<TrustedOutcome>,
}

impl Owned {
    fn from_js(r: NativeReceipt, trusted: bool) -> Result<Owned> {
        Ok(Owned {
            endpoint: r.endpoint,
            body: r.body.to_vec(),
            headers: vec_to_pairs(r.headers)?,
            query: vec_to_pairs(r.query)?,
            method: r.method.unwrap_or_else(|| "POST".into()),
            url: r.url,
            event_type: r.event_type,
            provider_event_id: r.provider_event_id,
            provider_delivery_id: r.provider_delivery_id,
            dedupe_key: r.dedupe_key,
            trusted: trusted.then_some(TrustedOutcome { signature_valid: r.signature_valid, signature_error: r.signature_error }),
        })
    }

    fn run(&self, k: &Knocker) -> core::Result<core::IngestResult> {
        let receipt = Receipt {
            method: &self.method,
            url: self.url.as_deref(),
            headers: self.headers.clone(),
            query: self.query.clone(),
            body: &self.body,
            event_type: self.event_type.clone(),
            provider_event_id: self.provider_event_id.clone(),
            provider_delivery_id: self.provider_delivery_id.clone(),
            dedupe_key: self.dedupe_key.clone(),
        };
        match &self.trusted {
            Some(t) => k.ingest(&self.endpoint, &receipt, t.clone()),
            None => k.receive(&self.endpoint, &receipt),
        }
    }
}

pub struct ReceiveTask {
    k: Knocker,
    work: Vec<Owned>,
}

impl Task for ReceiveTask {
    type Output = Vec<core::IngestResult>;
    type JsValue = Vec<ReceiveResult>;
    fn compute(&mut self) -> Result<Self::Output> {
        self.work.iter().map(|w| w.run(&self.k).map_err(kerr)).collect()
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(ReceiveResult::from).collect())
    }
}

pub struct ClaimTask {
    k: Knocker,
    worker_id: String,
    n: u32,
}

impl Task for ClaimTask {
    type Output = Vec<Claim>;
    type JsValue = Vec<JsClaim>;
    fn compute(&mut self) -> Result<Self::Output> {
        self.k.claim(&self.worker_id, self.n).map_err(kerr)
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(JsClaim::from).collect())
    }
}

pub struct WaitTask {
    k: Knocker,
    generation: u64,
    timeout_ms: u32,
}

impl Task for WaitTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        self.k.wait_for_work(self.generation, Duration::from_millis(self.timeout_ms as u64)).map_err(kerr)
    }
    fn resolve(&mut self, _env: Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

pub struct CompleteTask {
    k: Knocker,
    claim: Claim,
    worker_id: String,
    started_ms: i64,
    result: Option<std::result::Result<(), HandlerError>>,
}

impl Task for CompleteTask {
    type Output = core::Outcome;
    type JsValue = ProcessOutcome;
    fn compute(&mut self) -> Result<Self::Output> {
        let r = self.result.take().unwrap_or(Ok(()));
        self.k.complete(&self.claim, &self.worker_id, self.started_ms, r).map_err(kerr)
    }
    fn resolve(&mut self, _env: Env, o: Self::Output) -> Result<ProcessOutcome> {
        Ok(o.into())
    }
}

pub struct RetentionTask {
    k: Knocker,
    policy: core::RetentionPolicy,
    owner: String,
}

impl Task for RetentionTask {
    type Output = core::RetentionPass;
    type JsValue = RetentionPass;
    fn compute(&mut self) -> Result<Self::Output> {
        self.k.run_retention_pass(&self.policy, &self.owner).map_err(kerr)
    }
    fn resolve(&mut self, _env: Env, p: Self::Output) -> Result<RetentionPass> {
        Ok(RetentionPass { ran: p.ran, events: p.events.map(Into::into), orphans: p.orphans.map(Into::into) })
    }
}

fn parse_statuses(v: &[String]) -> Result<Vec<core::Status>> {
    v.iter()
        .map(|s| core::Status::parse(s).ok_or_else(|| invalid(format!("unknown status {s:?}"))))
        .collect()
}

fn retention_policy(p: RetentionPolicy) -> Result<core::RetentionPolicy> {
    let d = core::RetentionPolicy::default();
    Ok(core::RetentionPolicy {
        interval_s: p.interval_s.unwrap_or(d.interval_s),
        event_statuses: match p.event_statuses {
            Some(s) => parse_statuses(&s)?,
            None => d.event_statuses,
        },
        event_older_than_s: p.event_older_than_s,
        event_limit: p.event_limit.unwrap_or(d.event_limit),
        orphan_deliveries_older_than_s: p.orphan_deliveries_older_than_s,
        orphan_deliveries_limit: p.orphan_deliveries_limit.unwrap_or(d.orphan_deliveries_limit),
    })
}

/// The native handle. Use the `Knocker` class of the `knocker` package, not this directly.
#[napi]
pub struct NativeKnocker {
    k: Knocker,
    /// Endpoints whose receive calls JavaScript (app-local provider or key functions); their
    /// receiveAsync verifies on the JS thread.
    js_endpoints: Mutex<HashSet<String>>,
    js_providers: Mutex<HashSet<String>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[napi]
impl NativeKnocker {
    #[napi(constructor)]
    pub fn new(path: String, options: Option<OpenOptions>) -> Result<Self> {
        let o = options.unwrap_or_default();
        let mut opts = core::Options::default();
        if let Some(v) = o.busy_timeout_ms {
            opts.busy_timeout_ms = v;
        }
        if let Some(v) = o.synchronous {
            opts.synchronous = core::Synchronous::parse(&v).map_err(kerr)?;
        }
        if let Some(v) = o.visibility_timeout_s {
            opts.visibility_timeout_s = v;
        }
        if let Some(v) = o.max_attempts {
            opts.retry.max_attempts = v;
        }
        if let Some(v) = o.backoff_base_s {
            opts.retry.backoff_base_s = v;
            if o.backoff_max_s.is_none() && opts.retry.backoff_max_s < v {
                opts.retry.backoff_max_s = v;
            }
        }
        if let Some(v) = o.backoff_max_s {
            opts.retry.backoff_max_s = v;
        }
        if let Some(v) = o.claim_batch {
            opts.claim_batch = v;
        }
        if let Some(v) = o.max_readers {
            opts.max_readers = v as usize;
        }
        if let Some(v) = o.max_body_bytes {
            if !(v >= 1.0 && v.fract() == 0.0) {
                return Err(invalid("maxBodyBytes must be a positive integer"));
            }
            opts.max_body_bytes = v as usize;
        }
        if let Some(v) = o.idle_poll_ms {
            opts.idle_poll_ms = v as u64;
        }
        if let Some(v) = o.handler_batch {
            opts.handler_batch = v;
        }
        if let Some(v) = o.handler_batch_max_ms {
            opts.handler_batch_max_ms = v as u64;
        }
        let k = Knocker::open_with(&path, opts).map_err(kerr)?;
        let k = match &o.actor {
            Some(a) => k.with_actor(a),
            None => k,
        };
        Ok(NativeKnocker { k, js_endpoints: Mutex::new(HashSet::new()), js_providers: Mutex::new(HashSet::new()) })
    }

    #[napi(getter)]
    pub fn path(&self) -> String {
        self.k.path().to_string()
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.k.is_closed()
    }

    /// The effective idle poll interval (ms).
    #[napi(getter)]
    pub fn idle_poll_ms(&self) -> u32 {
        self.k.options().idle_poll_ms as u32
    }

    #[napi(getter)]
    pub fn claim_batch(&self) -> u32 {
        self.k.options().claim_batch
    }

    #[napi]
    pub fn close(&self) {
        self.k.close();
        self.k.clear_handlers();
    }

    #[napi]
    pub fn register_provider(&self, name: String, version: String, requires_secrets: bool) -> Result<()> {
        self.k
            .register_provider(Arc::new(JsProviderShim { name: name.clone(), version, requires_secrets }))
            .map_err(kerr)?;
        self.js_providers.lock().unwrap().insert(name);
        Ok(())
    }

    #[napi]
    pub fn add_endpoint(&self, e: NativeEndpoint) -> Result<()> {
        let mut c = EndpointConfig::new(e.name.clone(), e.path);
        c.provider = e.provider.clone();
        c.secrets = e.secrets.unwrap_or_default().into_iter().map(|b| Secret::new(b.to_vec())).collect();
        c.provider_options = match e.provider_options {
            None | Some(serde_json::Value::Null) => ProviderOptions::new(),
            Some(serde_json::Value::Object(m)) => m,
            Some(_) => return Err(invalid("providerOptions must be an object")),
        };
        c.enabled = e.enabled.unwrap_or(true);
        c.verification_required = e.verification_required;
        if let Some(n) = e.max_body_bytes {
            if !(n >= 1.0 && n.fract() == 0.0) {
                return Err(invalid("maxBodyBytes must be a positive integer"));
            }
            c.max_body_bytes = Some(n as usize);
        }
        if e.max_attempts.is_some() || e.backoff_base_s.is_some() || e.backoff_max_s.is_some() {
            let d = self.k.options().retry;
            let base = e.backoff_base_s.unwrap_or(d.backoff_base_s);
            c.retry = Some(RetryPolicy {
                max_attempts: e.max_attempts.unwrap_or(d.max_attempts),
                backoff_base_s: base,
                backoff_max_s: e.backoff_max_s.unwrap_or(d.backoff_max_s.max(base)),
            });
        }
        c.body_hash_dedupe = e.body_hash_dedupe.unwrap_or(false);
        let keys = e.key_functions.unwrap_or_default();
        for k in &keys {
            match k.as_str() {
                "dedupeKey" => c.dedupe_key = Some(key_fn(e.name.clone(), "dedupeKey")),
                "eventKey" => c.event_key = Some(key_fn(e.name.clone(), "eventKey")),
                "deliveryKey" => c.delivery_key = Some(key_fn(e.name.clone(), "deliveryKey")),
                "eventTypeKey" => c.event_type_key = Some(key_fn(e.name.clone(), "eventTypeKey")),
                other => return Err(invalid(format!("unknown key function {other:?}"))),
            }
        }
        let js_provider =
            e.provider.as_ref().is_some_and(|p| self.js_providers.lock().unwrap().contains(&p.to_ascii_lowercase()));
        self.k.add_endpoint(c).map_err(kerr)?;
        let mut js = self.js_endpoints.lock().unwrap();
        if js_provider || !keys.is_empty() {
            js.insert(e.name);
        } else {
            js.remove(&e.name);
        }
        Ok(())
    }

    /// Names of the endpoints stored in the file.
    #[napi]
    pub fn endpoint_names(&self) -> Result<Vec<String>> {
        self.k.endpoint_names().map_err(kerr)
    }

    #[napi]
    pub fn receive(&self, r: NativeReceipt, dispatch: Option<Function<'_>>) -> Result<ReceiveResult> {
        let _g = DispatchGuard::set(dispatch.as_ref());
        Owned::from_js(r, false)?.run(&self.k).map(Into::into).map_err(kerr)
    }

    #[napi]
    pub fn ingest(&self, r: NativeReceipt, dispatch: Option<Function<'_>>) -> Result<ReceiveResult> {
        let _g = DispatchGuard::set(dispatch.as_ref());
        Owned::from_js(r, true)?.run(&self.k).map(Into::into).map_err(kerr)
    }

    /// Whether receive on this endpoint calls JavaScript (then receiveAsync runs it on the JS thread).
    #[napi]
    pub fn endpoint_calls_js(&self, endpoint: String) -> bool {
        self.js_endpoints.lock().unwrap().contains(&endpoint)
    }

    /// Receives (or ingests, with `trusted`) a batch of receipts off the JS thread, each in its
    /// own transaction; resolves with one result per receipt.
    #[napi(ts_return_type = "Promise<Array<ReceiveResult>>")]
    pub fn receive_many_async(&self, receipts: Vec<NativeReceipt>, trusted: bool) -> Result<AsyncTask<ReceiveTask>> {
        let work = receipts.into_iter().map(|r| Owned::from_js(r, trusted)).collect::<Result<Vec<_>>>()?;
        Ok(AsyncTask::new(ReceiveTask { k: self.k.clone(), work }))
    }

    #[napi]
    pub fn get_event(&self, id: i64) -> Result<JsEvent> {
        self.k.get_event(id).map(Into::into).map_err(kerr)
    }

    #[napi]
    pub fn list_events(&self, f: Option<EventFilter>) -> Result<Vec<JsEvent>> {
        let f = f.unwrap_or_default();
        let filter = core::EventFilter {
            status: f.status,
            endpoint: f.endpoint,
            event_type: f.event_type,
            since: f.since,
            until: f.until,
            before_id: f.before_id,
            limit: f.limit.unwrap_or(100),
        };
        Ok(self.k.list_events(&filter).map_err(kerr)?.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub fn get_delivery(&self, id: i64) -> Result<JsDelivery> {
        self.k.get_delivery(id).map(Into::into).map_err(kerr)
    }

    #[napi]
    pub fn list_deliveries(&self, f: Option<DeliveryFilter>) -> Result<Vec<JsDelivery>> {
        let f = f.unwrap_or_default();
        let filter = core::DeliveryFilter {
            event_id: f.event_id,
            endpoint: f.endpoint,
            signature_valid: f.signature_valid,
            orphaned: f.orphaned,
            since: f.since,
            limit: f.limit.unwrap_or(100),
        };
        Ok(self.k.list_deliveries(&filter).map_err(kerr)?.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub fn list_attempts(&self, event_id: i64) -> Result<Vec<JsAttempt>> {
        Ok(self.k.list_attempts(event_id).map_err(kerr)?.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub fn ignore(&self, event_id: i64) -> Result<()> {
        self.k.ignore(event_id).map_err(kerr)
    }

    #[napi]
    pub fn replay(&self, event_id: i64) -> Result<()> {
        self.k.replay(event_id).map_err(kerr)
    }

    #[napi]
    pub fn requeue(&self, event_id: i64) -> Result<()> {
        self.k.requeue(event_id).map_err(kerr)
    }

    #[napi]
    pub fn replay_delivery(&self, delivery_id: i64) -> Result<()> {
        self.k.replay_delivery(delivery_id).map_err(kerr)
    }

    #[napi]
    pub fn prune_events(&self, a: PruneEventsArgs) -> Result<PruneEventsResult> {
        let p = core::PruneEvents {
            statuses: parse_statuses(&a.statuses)?,
            older_than: a.older_than,
            limit: a.limit.unwrap_or(100),
            dry_run: a.dry_run.unwrap_or(false),
        };
        self.k.prune_events(&p).map(Into::into).map_err(kerr)
    }

    #[napi]
    pub fn prune_orphan_deliveries(&self, a: PruneOrphansArgs) -> Result<PruneDeliveriesResult> {
        let p = core::PruneOrphans { older_than: a.older_than, limit: a.limit.unwrap_or(100), dry_run: a.dry_run.unwrap_or(false) };
        self.k.prune_orphan_deliveries(&p).map(Into::into).map_err(kerr)
    }

    /// Operator audit rows, newest first.
    #[napi]
    pub fn list_operator_audits(&self, f: Option<OperatorAuditFilter>) -> Result<Vec<OperatorAudit>> {
        let f = f.unwrap_or(OperatorAuditFilter { action: None, since: None, limit: None });
        let filter = core::OperatorAuditFilter { action: f.action, since: f.since, limit: f.limit.unwrap_or(50) };
        Ok(self
            .k
            .list_operator_audits(&filter)
            .map_err(kerr)?
            .into_iter()
            .map(|a| OperatorAudit {
                id: a.id,
                action: a.action,
                actor: a.actor,
                executed_at: a.executed_at,
                target_kind: a.target_kind,
                affected: a.affected,
                ids: a.ids,
                filters_json: a.filters_json,
            })
            .collect())
    }

    /// Runs app SQL (schema set-up) on Knocker's own writer connection, in one transaction.
    #[napi]
    pub fn execute_batch(&self, sql: String) -> Result<()> {
        self.k.execute_batch(&sql).map_err(kerr)
    }

    #[napi]
    pub fn list_prune_audits(&self, f: Option<AuditFilter>) -> Result<Vec<PruneAudit>> {
        let f = f.unwrap_or_default();
        let filter = core::AuditFilter { kind: f.kind, since: f.since, limit: f.limit.unwrap_or(50) };
        Ok(self
            .k
            .list_prune_audits(&filter)
            .map_err(kerr)?
            .into_iter()
            .map(|a| PruneAudit {
                id: a.id,
                kind: a.kind,
                executed_at: a.executed_at,
                events_pruned: a.events_pruned,
                deliveries_pruned: a.deliveries_pruned,
                attempts_pruned: a.attempts_pruned,
                summary_json: a.summary_json,
            })
            .collect())
    }

    #[napi]
    pub fn validate_retention(&self, policy: RetentionPolicy) -> Result<()> {
        Knocker::validate_retention(&retention_policy(policy)?).map_err(kerr)
    }

    /// One retention pass off the JS thread (the facade's runRetention repeats it).
    #[napi(ts_return_type = "Promise<RetentionPass>")]
    pub fn retention_pass_async(&self, policy: RetentionPolicy, owner: String) -> Result<AsyncTask<RetentionTask>> {
        Ok(AsyncTask::new(RetentionTask { k: self.k.clone(), policy: retention_policy(policy)?, owner }))
    }

    #[napi]
    pub fn stats(&self) -> Result<Stats> {
        Ok(js_stats(self.k.stats().map_err(kerr)?))
    }

    #[napi]
    pub fn metrics(&self) -> Result<Metrics> {
        let m = self.k.metrics().map_err(kerr)?;
        Ok(Metrics {
            endpoints: m
                .endpoints
                .iter()
                .map(|(name, e)| {
                    (
                        name.clone(),
                        EndpointMetrics {
                            receipts: counts(&e.receipts),
                            invalid_by_error_code: counts(&e.invalid_by_error_code),
                            handler_attempts: counts(&e.handler_attempts),
                            dead_letters: e.dead_letters as i64,
                            retries: e.retries as i64,
                        },
                    )
                })
                .collect(),
            unknown_endpoint_receipts: m.unknown_endpoint_receipts as i64,
            receive_errors: m.receive_errors as i64,
            receive_duration: js_histogram(&m.receive_duration),
            handler_duration: js_histogram(&m.handler_duration),
            enqueue_to_handled: js_histogram(&m.enqueue_to_handled),
            stats: js_stats(m.stats),
        })
    }

    /// The Prometheus text exposition (0.0.4) of `metrics()`.
    #[napi]
    pub fn prometheus_text(&self) -> Result<String> {
        self.k.prometheus_text().map_err(kerr)
    }

    #[napi]
    pub fn provider_versions(&self) -> HashMap<String, String> {
        let m: BTreeMap<String, String> = self.k.provider_versions();
        m.into_iter().collect()
    }

    // --- worker steps --------------------------------------------------------------------

    /// Registers the key with core's handler registry (the JS function stays in the facade).
    #[napi]
    pub fn handle(&self, endpoint: String, event_type: Option<String>) {
        self.k.handle(&endpoint, event_type.as_deref(), Arc::new(JsHandlerShim { endpoint: endpoint.clone(), event_type: event_type.clone() }));
    }

    /// `[endpoint, eventType|null]` of the handler core would run for this event, or null.
    #[napi]
    pub fn resolve_handler_key(&self, endpoint: String, event_type: Option<String>) -> Option<Vec<Option<String>>> {
        self.k.resolve_handler_key(&endpoint, event_type.as_deref()).map(|(e, t)| vec![Some(e), t])
    }

    #[napi(ts_return_type = "Promise<Array<JsClaim>>")]
    pub fn claim_async(&self, worker_id: String, n: u32) -> AsyncTask<ClaimTask> {
        AsyncTask::new(ClaimTask { k: self.k.clone(), worker_id, n })
    }

    #[napi]
    pub fn claim(&self, worker_id: String, n: u32) -> Result<Vec<JsClaim>> {
        Ok(self.k.claim(&worker_id, n).map_err(kerr)?.into_iter().map(Into::into).collect())
    }

    /// Runs the registered handler for one claim on this (JS) thread, in its transaction.
    #[napi]
    pub fn process(&self, claim: JsClaim, worker_id: String, dispatch: Function<'_>) -> Result<ProcessOutcome> {
        let _g = DispatchGuard::set(Some(&dispatch));
        self.k.process(&claim.into(), &worker_id).map(Into::into).map_err(kerr)
    }

    /// Runs the registered handlers of several claims on this (JS) thread in ONE transaction,
    /// each in its own savepoint (core `process_batch`; bounded by handlerBatchMaxMs). Returns
    /// the outcomes of the claims it processed, a prefix of `claims`.
    #[napi]
    pub fn process_batch(&self, claims: Vec<JsClaim>, worker_id: String, dispatch: Function<'_>) -> Result<Vec<ProcessOutcome>> {
        let _g = DispatchGuard::set(Some(&dispatch));
        let claims: Vec<Claim> = claims.into_iter().map(Into::into).collect();
        // Between handlers, ask the JS side whether the worker was aborted or closed.
        let stop = || {
            dispatcher::<FnArgs<(String,)>, Option<bool>>()
                .and_then(|f| f.call(FnArgs::from(("stop".to_string(),))).ok().flatten())
                .unwrap_or(false)
        };
        Ok(self.k.process_batch(&claims, &worker_id, None, &stop).map_err(kerr)?.into_iter().map(Into::into).collect())
    }

    /// Handlers per worker transaction.
    #[napi(getter)]
    pub fn handler_batch(&self) -> u32 {
        self.k.options().handler_batch
    }

    /// The event as an out-of-transaction (async) handler sees it; null when the claim is lost.
    #[napi]
    pub fn claimed_event(&self, claim: JsClaim) -> Result<Option<JsEvent>> {
        Ok(self.k.claimed_event(&claim.into()).map_err(kerr)?.map(Into::into))
    }

    /// Commits an async handler's result off the JS thread.
    #[napi(ts_return_type = "Promise<ProcessOutcome>")]
    pub fn complete_async(&self, claim: JsClaim, worker_id: String, started_ms: i64, result: HandlerResult) -> AsyncTask<CompleteTask> {
        AsyncTask::new(CompleteTask {
            k: self.k.clone(),
            claim: claim.into(),
            worker_id,
            started_ms,
            result: Some(handler_result(result)),
        })
    }

    #[napi]
    pub fn release(&self, claims: Vec<JsClaim>) -> Result<()> {
        let c: Vec<Claim> = claims.into_iter().map(Into::into).collect();
        self.k.release(&c).map_err(kerr)
    }

    #[napi]
    pub fn notify_generation(&self) -> i64 {
        self.k.notify_generation() as i64
    }

    /// Waits off the JS thread until work may be claimable, a local commit, or the timeout.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait_for_work_async(&self, generation: i64, timeout_ms: u32) -> AsyncTask<WaitTask> {
        AsyncTask::new(WaitTask { k: self.k.clone(), generation: generation as u64, timeout_ms })
    }

    #[napi]
    pub fn register_worker(&self, worker_id: String) {
        self.k.register_worker(&worker_id)
    }

    #[napi]
    pub fn record_worker_error(&self, worker_id: String, error: String) {
        self.k.record_worker_error(&worker_id, &error)
    }

    #[napi]
    pub fn finish_worker(&self, worker_id: String) {
        self.k.finish_worker(&worker_id)
    }

    #[napi]
    pub fn worker_states(&self) -> Vec<WorkerState> {
        self.k
            .worker_states()
            .into_iter()
            .map(|s| WorkerState {
                worker_id: s.worker_id,
                running: s.running,
                started_at: s.started_at,
                current_event_id: s.current_event_id,
                processed: s.processed as i64,
                failed: s.failed as i64,
                last_error: s.last_error,
                last_error_at: s.last_error_at,
            })
            .collect()
    }
}

/// Runs SQL inside the current handler's transaction (the facade's `tx.query`).
#[napi(ts_args_type = "sql: string, params?: Array<unknown> | undefined | null", ts_return_type = "Array<Record<string, unknown>>")]
pub fn tx_query(sql: String, params: Option<Vec<SqlParam>>) -> Result<SqlRows> {
    let ptr = CURRENT_TX.with(|c| c.get());
    if ptr.is_null() {
        return Err(napi::Error::new(
            Status::GenericFailure,
            "[invalid_state] this tx belongs to a handler call that has returned; use tx only inside the synchronous handler",
        ));
    }
    let tx = unsafe { &*ptr };
    let p: Vec<SqlValue> = params.unwrap_or_default().into_iter().map(|p| p.0).collect();
    tx.query(&sql, &p).map(SqlRows).map_err(kerr)
}

/// Executes SQL inside the current handler's transaction; returns the changed row count.
#[napi(ts_args_type = "sql: string, params?: Array<unknown> | undefined | null")]
pub fn tx_execute(sql: String, params: Option<Vec<SqlParam>>) -> Result<i64> {
    let ptr = CURRENT_TX.with(|c| c.get());
    if ptr.is_null() {
        return Err(napi::Error::new(
            Status::GenericFailure,
            "[invalid_state] this tx belongs to a handler call that has returned; use tx only inside the synchronous handler",
        ));
    }
    let tx = unsafe { &*ptr };
    let p: Vec<SqlValue> = params.unwrap_or_default().into_iter().map(|p| p.0).collect();
    tx.execute(&sql, &p).map(|n| n as i64).map_err(kerr)
}

/// The curated provider catalogue.
#[napi]
pub fn provider_catalogue() -> Vec<ProviderInfo> {
    Knocker::provider_catalogue()
        .into_iter()
        .map(|p| ProviderInfo {
            name: p.name,
            version: p.version,
            algorithm: p.algorithm,
            idempotency_key: p.idempotency_key,
            doc: p.doc,
            doc_url: p.doc_url,
            options: p
                .options
                .into_iter()
                .map(|o| ProviderOptionInfo {
                    key: o.key.to_string(),
                    kind: match o.kind {
                        core::provider::OptionKind::String => "string",
                        core::provider::OptionKind::Integer => "integer",
                        core::provider::OptionKind::Bool => "bool",
                        core::provider::OptionKind::StringList => "string_list",
                    }
                    .to_string(),
                    default: o.default.map(str::to_string),
                    doc: o.doc.to_string(),
                })
                .collect(),
        })
        .collect()
}

/// Test helper: verifies one request with a curated provider at an injected time (`nowS`),
/// as the shared conformance vectors need. Production verification goes through `receive`.
#[napi]
pub fn verify_vector(
    provider: String,
    method: String,
    url: Option<String>,
    headers: Vec<Vec<String>>,
    query: Vec<Vec<String>>,
    body: Buffer,
    secrets: Vec<Buffer>,
    options: Option<serde_json::Value>,
    now_s: i64,
) -> Result<VectorVerdict> {
    let p = core::providers::find(&provider).ok_or_else(|| kerr(CoreError::UnknownProvider(provider.clone())))?;
    let headers = vec_to_pairs(headers)?;
    let query = vec_to_pairs(query)?;
    let body = body.to_vec();
    let secrets: Vec<Secret> = secrets.into_iter().map(|b| Secret::new(b.to_vec())).collect();
    let options = match options {
        None | Some(serde_json::Value::Null) => ProviderOptions::new(),
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => return Err(invalid("options must be an object")),
    };
    let req = Request { method: &method, url: url.as_deref(), headers: &headers, query: &query, body: &body };
    let ctx = VerifyContext { secrets: &secrets, options: &options, now_s };
    let v = p.verify(&req, &ctx);
    let (valid, error_code, secret_index) = match &v.result {
        Ok(i) => (true, None, i.map(|i| i as i64)),
        Err(r) => (false, Some(r.code.clone()), None),
    };
    Ok(VectorVerdict {
        valid,
        error_code,
        secret_index,
        event_id: v.metadata.event_id,
        event_type: v.metadata.event_type,
        delivery_id: v.metadata.delivery_id,
        idempotency_key: v.metadata.idempotency_key,
        handshake: v.handshake.map(|h| {
            serde_json::json!({
                "status_code": h.status_code,
                "content_type": h.content_type,
                "body_b64": b64(&h.body),
            })
        }),
    })
}

/// Milliseconds since the Unix epoch, from the same clock the native side uses.
#[napi]
pub fn now_unix_ms() -> i64 {
    now_ms()
}

fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}
