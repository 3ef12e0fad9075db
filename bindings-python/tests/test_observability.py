"""Observability: exact counters, Prometheus text parsed by prometheus_client, logging bridge,
traceparent on the handler's event."""

import logging

import pytest

import knocker
from conftest import sign

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _traffic(app):
    @app.handle(endpoint="acme")
    def h(event, tx):
        if event.body == b"fail":
            raise RuntimeError("nope")

    for body, i in [(b"ok1", "1"), (b"ok2", "2"), (b"fail", "3"), (b"ok1", "1")]:
        r = app.receive(endpoint="acme", body=body, headers={"X-Signature": sign(body), "X-Id": i})
        assert r.status_code == 204
    r = app.receive(endpoint="acme", body=b"x", headers={"X-Signature": sign(b"x", "wrong"), "X-Id": "9"})
    assert r.status_code == 401
    assert app.receive(endpoint="nope", body=b"x").status_code == 404
    # backoff 0, max_attempts 3: "fail" runs three times in one drain and goes dead
    assert app.drain() == 5


def test_counters_after_scripted_traffic(hmac_app):
    _traffic(hmac_app)
    m = hmac_app.metrics()
    assert isinstance(m, knocker.Metrics)
    e = m.endpoints["acme"]
    assert e.receipts == {"created": 3, "duplicate": 1, "invalid": 1, "too_large": 0, "disabled": 0, "handshake": 0}
    assert e.invalid_by_error_code == {"signature_mismatch": 1}
    assert e.handler_attempts == {"handled": 2, "failed": 2, "dead": 1, "skipped": 0}
    assert (e.retries, e.dead_letters) == (2, 1)
    assert m.unknown_endpoint_receipts == 1
    assert m.receive_errors == 0
    assert m.receive_duration.count == 6
    assert m.handler_duration.count == 5
    assert m.enqueue_to_handled.count == 2
    assert m.stats.dead == 1 and m.stats.claimable == 0


def test_prometheus_text_parses_with_prometheus_client(hmac_app):
    parser = pytest.importorskip("prometheus_client.parser")
    _traffic(hmac_app)
    families = {f.name: f for f in parser.text_string_to_metric_families(hmac_app.prometheus_text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert families["knocker_receipts"].type == "counter"
    assert samples[("knocker_receipts_total", (("endpoint", "acme"), ("outcome", "created")))] == 3
    assert samples[("knocker_receipts_total", (("endpoint", ""), ("outcome", "unknown_endpoint")))] == 1
    assert samples[("knocker_invalid_receipts_total", (("endpoint", "acme"), ("error_code", "signature_mismatch")))] == 1
    assert samples[("knocker_handler_attempts_total", (("endpoint", "acme"), ("outcome", "failed")))] == 2
    assert samples[("knocker_dead_letters_total", (("endpoint", "acme"),))] == 1
    assert samples[("knocker_retries_total", (("endpoint", "acme"),))] == 2
    assert families["knocker_receive_duration_seconds"].type == "histogram"
    assert samples[("knocker_receive_duration_seconds_count", ())] == 6
    assert samples[("knocker_receive_duration_seconds_bucket", (("le", "+Inf"),))] == 6
    assert families["knocker_claimable_events"].type == "gauge"
    assert samples[("knocker_dead_events", (("endpoint", "acme"),))] == 1
    assert samples[("knocker_oldest_claimable_age_seconds", ())] == 0


def test_core_log_events_reach_the_logging_module(app, caplog):
    app.add_endpoint(name="p", path="/p")

    @app.handle(endpoint="p")
    def h(event, tx):
        raise knocker.Discard("poison")

    r = app.ingest(endpoint="p", body=b"x", dedupe_key="k", signature_valid=True)
    with caplog.at_level(logging.INFO, logger="knocker"):
        app.drain()
    recs = [r for r in caplog.records if r.name == "knocker"]
    assert len(recs) == 1, recs
    rec = recs[0]
    assert rec.levelno == logging.WARNING
    assert rec.getMessage().startswith("event dead-lettered")
    assert rec.knocker_fields["event_id"] == str(r.event_id)
    assert rec.knocker_fields["error"] == "poison"


def test_traceparent_reaches_the_handler(app):
    app.add_endpoint(name="p", path="/p")
    seen = []

    @app.handle(endpoint="p")
    def h(event, tx):
        seen.append(event.traceparent)

    r = app.ingest(endpoint="p", body=b"x", headers={"traceparent": TP}, signature_valid=True)
    assert app.get_delivery(r.delivery_id).traceparent == TP
    assert app.get_event(r.event_id).traceparent == TP
    app.drain()
    assert seen == [TP]
