//! The `otel` feature: a trace id given in `traceparent` is the handler span's trace, exported
//! through OpenTelemetry. Run with `cargo test -p knocker --features otel --test otel`.
#![cfg(feature = "otel")]

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn the_handler_span_continues_the_webhooks_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    assert!(knocker::otel::install());
    tracing::subscriber::with_default(subscriber, || {
        let dir = tempfile::tempdir().unwrap();
        let inbox = knocker::Knocker::open(dir.path().join("o.sqlite").to_str().unwrap()).unwrap();
        inbox.add_endpoint(knocker::Endpoint::new("p", "/p")).unwrap();
        let request = knocker::Request::post(b"{}").header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        inbox.ingest("p", request, knocker::TrustedOutcome::valid()).unwrap();
        inbox.handle("p", None, |_: &knocker::Event, _: &knocker::Transaction<'_>| Ok(()));
        assert_eq!(inbox.drain(None).unwrap(), 1);
    });
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let handle = spans.iter().find(|s| s.name == "knocker.handle").expect("knocker.handle exported");
    assert_eq!(handle.span_context.trace_id(), TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
    assert_eq!(handle.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").unwrap());
}
