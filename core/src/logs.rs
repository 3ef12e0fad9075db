//! A process-wide bridge from Knocker's `tracing` events to a host logging system (Python's
//! `logging`, Node's `diagnostics_channel`). The bindings install it once per process.
//!
//! Only events are forwarded, never spans: span callsites stay disabled, so the hot path pays
//! nothing for the bridge. Events Knocker emits (target `knocker_core::...`, stable messages):
//! WARN "event dead-lettered" {event_id, endpoint, attempt, error}; INFO "handler failed, retry
//! scheduled" {event_id, endpoint, attempt, error, retry_in_ms}; DEBUG "receipt rejected"
//! {endpoint, error_code}; WARN on a WAL file replaced by another SQLite library, a panicking
//! provider, a lease lost before commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
pub use tracing::Level;

/// One forwarded log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: &'static str,
    /// The Rust module that emitted it (`knocker_core::worker`, ...).
    pub target: String,
    pub message: String,
    /// Structured fields in emission order, values formatted as text.
    pub fields: Vec<(String, String)>,
}

pub type LogCallback = Arc<dyn Fn(&LogRecord) + Send + Sync>;

struct Bridge {
    callback: LogCallback,
    max_level: Level,
    next_id: AtomicU64,
}

struct Collect<'a>(&'a mut LogRecord);
impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.message = format!("{value:?}");
        } else {
            self.0.fields.push((field.name().to_string(), format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.message = value.to_string();
        } else {
            self.0.fields.push((field.name().to_string(), value.to_string()));
        }
    }
}

impl Bridge {
    fn wants(&self, m: &Metadata<'_>) -> bool {
        m.is_event() && *m.level() <= self.max_level && m.target().starts_with("knocker")
    }
}

impl Subscriber for Bridge {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if self.wants(m) { Interest::always() } else { Interest::never() }
    }
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.wants(m)
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(self.max_level))
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed).max(1))
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let m = e.metadata();
        let mut rec = LogRecord { level: level_name(*m.level()), target: m.target().to_string(), message: String::new(), fields: Vec::new() };
        e.record(&mut Collect(&mut rec));
        // A callback that panics must not take the worker down with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.callback)(&rec)));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// Installs the bridge as the process-wide `tracing` subscriber, forwarding Knocker's events at
/// `max_level` and above to `callback`. Returns false when a global subscriber was already set
/// (by an earlier call or by the host application); the first one stays.
pub fn install_log_callback(max_level: Level, callback: LogCallback) -> bool {
    tracing::subscriber::set_global_default(Bridge { callback, max_level, next_id: AtomicU64::new(1) }).is_ok()
}

/// A subscriber value (not installed) for tests or scoped use with `tracing::subscriber::with_default`.
pub fn log_subscriber(max_level: Level, callback: LogCallback) -> impl Subscriber + Send + Sync {
    Bridge { callback, max_level, next_id: AtomicU64::new(1) }
}
