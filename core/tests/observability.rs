//! Observability: exact counters after scripted traffic, the Prometheus exposition, and a W3C
//! trace context crossing the queue onto the handler span.
mod common;
use common::*;
use knocker_core::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

fn hmac_endpoint(f: &Fixture, name: &str) {
    f.k.add_endpoint(
        EndpointConfig::new(name, format!("/hooks/{name}"))
            .provider("generic-hmac")
            .secret("s3cret")
            .option("header", "X-Sig")
            .option("id_header", "X-Delivery"),
    )
    .unwrap();
}

fn signed<'a>(body: &'a [u8], secret: &[u8], delivery: &str) -> Receipt<'a> {
    Receipt::new(body).header("X-Sig", format!("sha256={}", hmac_hex(secret, body))).header("X-Delivery", delivery)
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The scripted traffic shared by the counter and exposition tests.
fn scripted() -> Fixture {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    f.k.add_endpoint(EndpointConfig::new("small", "/small").max_body_bytes(8)).unwrap();
    f.k.add_endpoint(EndpointConfig::new("off", "/off").enabled(false)).unwrap();
    f.plain_endpoint("orphan");
    f.k.handle(
        "gh",
        None,
        Arc::new(|e: &Event, _: &HandlerTx<'_>| if e.body == b"fail" { Err(HandlerError::Failed("nope".into())) } else { Ok(()) }),
    );
    // gh: 3 created, 1 duplicate, 2 signature mismatches, 1 missing signature
    for (body, id) in [(&b"ok1"[..], "d1"), (b"ok2", "d2"), (b"fail", "d3"), (b"ok1", "d1")] {
        assert_eq!(f.k.receive("gh", &signed(body, b"s3cret", id)).unwrap().status_code, 204);
    }
    for id in ["x1", "x2"] {
        assert_eq!(f.k.receive("gh", &signed(b"forged", b"wrong", id)).unwrap().status_code, 401);
    }
    assert_eq!(f.k.receive("gh", &Receipt::new(b"unsigned").header("X-Delivery", "x3")).unwrap().status_code, 401);
    assert_eq!(f.k.ingest("small", &Receipt::new(b"0123456789"), TrustedOutcome::valid()).unwrap().status_code, 413);
    assert_eq!(f.k.ingest("off", &Receipt::new(b"x"), TrustedOutcome::valid()).unwrap().status_code, 404);
    for _ in 0..2 {
        assert_eq!(f.k.receive("nope", &Receipt::new(b"x")).unwrap().status_code, 404);
    }
    // orphan: an event with no handler goes dead at its first attempt
    f.ingest("orphan", b"o", Some("o1"));

    // attempt 1: ok1, ok2 handled; fail failed; orphan dead (no handler)
    assert_eq!(f.k.drain(None).unwrap(), 4);
    f.clock.advance_s(1000.0);
    assert_eq!(f.k.drain(None).unwrap(), 1); // fail: attempt 2, failed
    f.clock.advance_s(1000.0);
    assert_eq!(f.k.drain(None).unwrap(), 1); // fail: attempt 3 of 3, dead
    f
}

#[test]
fn counters_after_scripted_traffic_are_exact() {
    let f = scripted();
    let m = f.k.metrics().unwrap();
    let gh = &m.endpoints["gh"];
    assert_eq!(
        gh.receipts,
        counts(&[("created", 3), ("duplicate", 1), ("invalid", 3), ("too_large", 0), ("disabled", 0), ("handshake", 0)])
    );
    let missing = gh.invalid_by_error_code.keys().find(|k| *k != "signature_mismatch").cloned().unwrap();
    assert_eq!(gh.invalid_by_error_code, counts(&[("signature_mismatch", 2), (missing.as_str(), 1)]));
    assert_eq!(gh.handler_attempts, counts(&[("handled", 2), ("failed", 2), ("dead", 1), ("skipped", 0)]));
    assert_eq!((gh.retries, gh.dead_letters), (2, 1));
    assert_eq!(m.endpoints["small"].receipts["too_large"], 1);
    assert_eq!(m.endpoints["off"].receipts["disabled"], 1);
    let orphan = &m.endpoints["orphan"];
    assert_eq!(orphan.receipts["created"], 1);
    assert_eq!(orphan.handler_attempts, counts(&[("handled", 0), ("failed", 0), ("dead", 1), ("skipped", 0)]));
    assert_eq!(orphan.dead_letters, 1);
    assert_eq!(m.unknown_endpoint_receipts, 2);
    assert_eq!(m.receive_errors, 0);
    assert!(!m.endpoints.contains_key("nope"), "unknown names never become label values");
    assert_eq!(m.receive_duration.count, 12);
    assert_eq!(m.handler_duration.count, 5, "gh ran 5 times; orphan had no handler");
    assert_eq!(m.enqueue_to_handled.count, 2);
    // The manual clock did not move between receipt and the first drain.
    assert_eq!(m.enqueue_to_handled.buckets[0], (0.01, 2));
    // gauges come from the file
    assert_eq!(m.stats.dead, 2);
    assert_eq!(m.stats.claimable, 0);
    assert_eq!(m.stats.by_endpoint["gh"]["handled"], 2);
    // counters are per handle: a second handle on the file starts at zero, gauges agree
    let other = f.reopen();
    let m2 = other.metrics().unwrap();
    assert!(m2.endpoints.is_empty());
    assert_eq!(m2.stats, m.stats);
}

/// Minimal parser of the text format 0.0.4: every sample line is `name{labels} value`, every
/// sample belongs to a family declared by `# TYPE` before it, and histogram buckets are cumulative.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "family declared twice: {name}");
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s).filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))).unwrap_or(name);
        assert!(types.contains_key(family), "sample before its # TYPE: {line}");
        if series.contains('{') {
            assert!(series.ends_with('}'), "{line}");
        }
        assert!(samples.insert(series.to_string(), value).is_none(), "duplicate series {series}");
    }
    samples
}

#[test]
fn prometheus_text_has_the_documented_series() {
    let f = scripted();
    let text = f.k.prometheus_text().unwrap();
    let s = parse_exposition(&text);
    assert_eq!(s[r#"knocker_receipts_total{endpoint="gh",outcome="created"}"#], 3.0);
    assert_eq!(s[r#"knocker_receipts_total{endpoint="gh",outcome="invalid"}"#], 3.0);
    assert_eq!(s[r#"knocker_receipts_total{endpoint="",outcome="unknown_endpoint"}"#], 2.0);
    assert_eq!(s[r#"knocker_invalid_receipts_total{endpoint="gh",error_code="signature_mismatch"}"#], 2.0);
    assert_eq!(s[r#"knocker_handler_attempts_total{endpoint="gh",outcome="failed"}"#], 2.0);
    assert_eq!(s[r#"knocker_dead_letters_total{endpoint="orphan"}"#], 1.0);
    assert_eq!(s[r#"knocker_retries_total{endpoint="gh"}"#], 2.0);
    assert_eq!(s["knocker_receive_duration_seconds_count"], 12.0);
    assert_eq!(s[r#"knocker_receive_duration_seconds_bucket{le="+Inf"}"#], 12.0);
    assert_eq!(s["knocker_handler_duration_seconds_count"], 5.0);
    assert_eq!(s["knocker_enqueue_to_handled_seconds_count"], 2.0);
    assert_eq!(s["knocker_claimable_events"], 0.0);
    assert_eq!(s["knocker_oldest_claimable_age_seconds"], 0.0);
    assert_eq!(s[r#"knocker_dead_events{endpoint="gh"}"#], 1.0);
    assert_eq!(s[r#"knocker_processing_events{endpoint="gh"}"#], 0.0);
    assert_eq!(s[r#"knocker_events{endpoint="gh",status="handled"}"#], 2.0);
    // cumulative buckets never decrease
    let mut last = 0.0;
    for b in metrics::RECEIVE_BUCKETS {
        let v = s[&format!("knocker_receive_duration_seconds_bucket{{le=\"{b}\"}}")];
        assert!(v >= last);
        last = v;
    }
}

#[test]
fn gauges_show_depth_and_age_of_claimable_work() {
    let f = fixture();
    f.plain_endpoint("p");
    f.ingest("p", b"a", Some("a"));
    f.clock.advance_s(90.0);
    f.ingest("p", b"b", Some("b"));
    let s = parse_exposition(&f.k.prometheus_text().unwrap());
    assert_eq!(s["knocker_claimable_events"], 2.0);
    assert_eq!(s["knocker_oldest_claimable_age_seconds"], 90.0);
    assert_eq!(s[r#"knocker_events{endpoint="p",status="received"}"#], 2.0);
}

// ---------------------------------------------------------------------------------------------
// Traces
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>);

struct Visitor<'a>(&'a mut BTreeMap<String, String>);
impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

struct Fields(BTreeMap<String, String>);

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> tracing_subscriber::Layer<S> for Captured {
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut m = BTreeMap::new();
        attrs.record(&mut Visitor(&mut m));
        ctx.span(id).unwrap().extensions_mut().insert(Fields(m));
    }
    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        values.record(&mut Visitor(&mut ext.get_mut::<Fields>().unwrap().0));
    }
    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let fields = span.extensions_mut().remove::<Fields>().unwrap().0;
        self.0.lock().unwrap().push((span.name().to_string(), fields));
    }
}

/// Scoped subscribers on several test threads race in tracing's callsite-interest cache;
/// the tests that install one run one at a time.
static TRACING: Mutex<()> = Mutex::new(());

#[test]
fn traceparent_is_stored_and_parents_the_handler_span() {
    let _serial = TRACING.lock().unwrap_or_else(|e| e.into_inner());
    use tracing_subscriber::layer::SubscriberExt;
    let f = fixture();
    f.plain_endpoint("p");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    f.k.handle("p", None, Arc::new(move |e: &Event, _: &HandlerTx<'_>| {
        s2.lock().unwrap().push(e.traceparent.clone());
        Ok(())
    }));
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    tracing::subscriber::with_default(subscriber, || {
        let r = f.k.receive("p", &Receipt::new(b"x").header("TraceParent", tp)).unwrap();
        assert_eq!(f.k.get_delivery(r.delivery_id.unwrap()).unwrap().traceparent.as_deref(), Some(tp));
        assert_eq!(f.k.get_event(r.event_id.unwrap()).unwrap().traceparent.as_deref(), Some(tp));
        // a malformed header is not stored
        let bad = f.k.receive("p", &Receipt::new(b"y").header("traceparent", "00-nope")).unwrap();
        assert_eq!(f.k.get_delivery(bad.delivery_id.unwrap()).unwrap().traceparent, None);
        assert_eq!(f.k.drain(None).unwrap(), 2);
    });
    assert_eq!(*seen.lock().unwrap(), vec![Some(tp.to_string()), None], "the handler's event exposes traceparent");
    let spans = captured.0.lock().unwrap();
    let handles: Vec<_> = spans.iter().filter(|(n, _)| n == "knocker.handle").collect();
    assert_eq!(handles.len(), 2);
    let linked: Vec<_> = handles.iter().filter(|(_, f)| f.contains_key("trace_id")).collect();
    assert_eq!(linked.len(), 1, "{handles:#?}");
    let fields = &linked[0].1;
    assert_eq!(fields["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(fields["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(fields["endpoint"], "p");
    assert_eq!(fields["outcome"], "handled");
    for name in ["knocker.receive", "knocker.store", "knocker.claim", "knocker.commit"] {
        assert!(spans.iter().any(|(n, _)| n == name), "no {name} span");
    }
    let receive = spans.iter().find(|(n, _)| n == "knocker.receive").unwrap();
    assert_eq!(receive.1["status_code"], "204");
}

#[test]
fn schema_v3_adds_a_nullable_traceparent_column() {
    let f = fixture();
    let notnull: i64 = f
        .raw()
        .query_row("SELECT \"notnull\" FROM pragma_table_info('knocker_deliveries') WHERE name = 'traceparent'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(notnull, 0);
}

#[test]
fn log_bridge_forwards_outcome_events() {
    let _serial = TRACING.lock().unwrap_or_else(|e| e.into_inner());
    let f = fixture();
    f.plain_endpoint("p");
    f.k.handle("p", None, Arc::new(|_: &Event, _: &HandlerTx<'_>| Err(HandlerError::Discard("poison".into()))));
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let sub = knocker_core::logs::log_subscriber(tracing::Level::INFO, Arc::new(move |r: &knocker_core::logs::LogRecord| g2.lock().unwrap().push(r.clone())));
    let id = f.ingest("p", b"x", Some("k")).event_id.unwrap();
    tracing::subscriber::with_default(sub, || assert_eq!(f.k.drain(None).unwrap(), 1));
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].level, got[0].message.as_str()), ("WARN", "event dead-lettered"));
    assert!(got[0].fields.contains(&("event_id".to_string(), id.to_string())), "{got:?}");
    assert!(got[0].fields.contains(&("error".to_string(), "poison".to_string())), "{got:?}");
}

#[test]
fn an_expired_last_lease_counts_as_a_dead_letter() {
    let f = fixture();
    f.plain_endpoint("crashy");
    let id = f.ingest("crashy", b"x", None).event_id.unwrap();
    // Three attempts (the fixture's max), each claimed by a worker that never finishes.
    for _ in 0..3 {
        assert_eq!(f.k.claim("dies", 1).unwrap().len(), 1);
        f.clock.advance_s(61.0);
    }
    assert!(f.k.claim("next", 1).unwrap().is_empty(), "the expired last attempt is settled, not claimed");
    assert_eq!(f.k.get_event(id).unwrap().status, Status::Dead);
    let m = f.k.metrics().unwrap();
    let crashy = &m.endpoints["crashy"];
    assert_eq!(crashy.dead_letters, 1);
    assert_eq!(crashy.handler_attempts, counts(&[("handled", 0), ("failed", 0), ("dead", 0), ("skipped", 0)]), "no handler outcome was committed");
    assert!(f.k.prometheus_text().unwrap().contains(r#"knocker_dead_letters_total{endpoint="crashy"} 1"#));
}
