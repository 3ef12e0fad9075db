//! Trace context across the queue: a W3C `traceparent` header on the incoming request is stored
//! with the delivery (and read back with its event), and the handler span (`knocker.handle`)
//! records it as `trace_id` / `parent_span_id`. An OpenTelemetry bridge (the `otel` feature of
//! the `knocker` crate) installs a [`set_span_parent_hook`] that makes it the span's parent.
//!
//! Span names and fields (stable):
//! - `knocker.receive` {endpoint, status_code, delivery_id, event_id, outcome, trace_id}
//!   → `knocker.verify` {provider} → `knocker.store`
//! - `knocker.ingest` {endpoint, ...same as receive}
//! - `knocker.claim` {worker_id, batch} → `knocker.handle` {event_id, endpoint, attempt,
//!   worker_id, outcome, trace_id, parent_span_id} → `knocker.commit` {worker_id, events}
//! - `knocker.prune` {kind, dry_run}

use std::sync::OnceLock;

use crate::provider::Pairs;

/// A parsed W3C trace context (`traceparent`, version 00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits: the caller's span, parent of the handler span.
    pub parent_span_id: String,
    pub flags: u8,
}

impl TraceParent {
    /// Parses `00-<trace-id>-<parent-id>-<flags>` (and later versions' first four fields, as the
    /// spec asks). All-zero ids and malformed values are rejected.
    pub fn parse(v: &str) -> Option<TraceParent> {
        let v = v.trim();
        let mut parts = v.split('-');
        let (ver, tid, pid, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex(ver, 2) || ver == "ff" || !hex(tid, 32) || !hex(pid, 16) || !hex(flags, 2) {
            return None;
        }
        if ver == "00" && parts.next().is_some() {
            return None;
        }
        if tid.bytes().all(|b| b == b'0') || pid.bytes().all(|b| b == b'0') {
            return None;
        }
        Some(TraceParent { trace_id: tid.to_string(), parent_span_id: pid.to_string(), flags: u8::from_str_radix(flags, 16).ok()? })
    }

    /// The header value (version 00).
    pub fn to_header(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.parent_span_id, self.flags)
    }

    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// The valid `traceparent` header of a request, normalized; `None` when absent or malformed.
pub(crate) fn from_headers(headers: &Pairs) -> Option<String> {
    headers.get_ignore_case("traceparent").and_then(TraceParent::parse).map(|t| t.to_header())
}

/// Called with the handler span and the stored trace context before the handler runs.
pub type SpanParentHook = fn(&tracing::Span, &TraceParent);

static HOOK: OnceLock<SpanParentHook> = OnceLock::new();

/// Installs the process-wide hook that links a handler span to its stored trace context (the
/// OpenTelemetry bridge sets the span's remote parent). The first call wins.
pub fn set_span_parent_hook(hook: SpanParentHook) -> bool {
    HOOK.set(hook).is_ok()
}

/// Records the trace context on the handler span and calls the hook.
pub(crate) fn link_handler_span(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(tp) = traceparent.and_then(TraceParent::parse) else { return };
    span.record("trace_id", tp.trace_id.as_str());
    span.record("parent_span_id", tp.parent_span_id.as_str());
    if let Some(h) = HOOK.get() {
        h(span, &tp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_w3c_examples() {
        let t = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_span_id, "00f067aa0ba902b7");
        assert!(t.sampled());
        assert_eq!(t.to_header(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
        assert!(TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_none());
        assert!(TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_some());
        assert!(TraceParent::parse("garbage").is_none());
    }
}
