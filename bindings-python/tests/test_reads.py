import pytest

import knocker
from conftest import rows


@pytest.fixture
def filled(app):
    app.add_endpoint(name="a", path="/a")
    app.add_endpoint(name="b", path="/b")
    for i in range(105):
        app.ingest(endpoint="a" if i % 2 else "b", body=b"%d" % i, event_type="T" if i % 3 else "u")
    return app


def test_list_events_default_limit_order_and_filters(filled):
    evs = filled.list_events()
    assert len(evs) == 100
    ids = [e.id for e in evs]
    assert ids == sorted(ids, reverse=True) and ids[0] == 105
    assert all(e.endpoint == "a" for e in filled.list_events(endpoint="a"))
    assert len(filled.list_events(endpoint="a", limit=1000)) == 52
    assert filled.list_events(event_type="t") == []  # case-sensitive
    assert filled.list_events(status="bogus") == []
    assert len(filled.list_events(status="received", event_type="u", limit=1000)) == 35
    now = filled.get_event(1).received_at
    assert len(filled.list_events(since=now, limit=1000)) == 105
    assert filled.list_events(since=now + 10_000) == []
    page = filled.list_events(limit=10, before_id=50)
    assert [e.id for e in page] == list(range(49, 39, -1))


def test_list_argument_validation(filled):
    for bad in (0, 1001):
        with pytest.raises(ValueError) as ei:
            filled.list_events(limit=bad)
        assert ei.value.code == "invalid_argument"
    with pytest.raises(TypeError, match="limit must be an integer"):
        filled.list_events(limit=True)
    with pytest.raises(TypeError, match="since must be an integer timestamp"):
        filled.list_events(since="yesterday")
    with pytest.raises(TypeError, match="since must be an integer timestamp"):
        filled.list_deliveries(since=1.5)
    with pytest.raises(TypeError, match="orphaned must be a bool"):
        filled.list_deliveries(orphaned=1)
    with pytest.raises(TypeError, match="signature_valid must be a bool"):
        filled.list_deliveries(signature_valid="yes")
    with pytest.raises(TypeError):
        filled.get_event("1")
    with pytest.raises(ValueError):
        filled.list_prune_audits(limit=0)


def test_get_unknown_ids_raise_key_error(app):
    with pytest.raises(KeyError, match="unknown event id: 5"):
        app.get_event(5)
    with pytest.raises(KeyError, match="unknown delivery id: 6") as ei:
        app.get_delivery(6)
    assert isinstance(ei.value, knocker.NotFoundError) and isinstance(ei.value, knocker.KnockerError)
    with pytest.raises(KeyError):
        app.list_attempts(5)


def test_list_deliveries_signature_axes(app, db_path):
    app.add_endpoint(name="a", path="/a")
    v = app.ingest(endpoint="a", body=b"1")
    n = app.ingest(endpoint="a", body=b"2", signature_valid=None)
    i = app.ingest(endpoint="a", body=b"3", signature_valid=False, signature_error="bad")
    ids = lambda ds: sorted(d.id for d in ds)  # noqa: E731
    assert ids(app.list_deliveries(signature_valid=True)) == [v.delivery_id]
    assert ids(app.list_deliveries(signature_valid=False)) == sorted([n.delivery_id, i.delivery_id])
    assert ids(app.list_deliveries(orphaned=True)) == [i.delivery_id]
    assert ids(app.list_deliveries(orphaned=False)) == sorted([v.delivery_id, n.delivery_id])
    assert ids(app.list_deliveries(event_id=v.event_id)) == [v.delivery_id]
    assert ids(app.list_deliveries(endpoint="zzz")) == []
    stored = rows(db_path, "SELECT id, signature_valid FROM knocker_deliveries ORDER BY id")
    assert [r["signature_valid"] for r in stored] == [1, None, 0]


def test_stats(app):
    app.add_endpoint(name="a", path="/a")
    app.ingest(endpoint="a", body=b"1")
    app.ingest(endpoint="a", body=b"2", signature_valid=False, signature_error="x")
    s = app.stats()
    assert s.by_status == {"received": 1} and s.by_endpoint == {"a": {"received": 1}}
    assert s.claimable == 1 and s.dead == 0 and s.orphan_deliveries == 1 and s.oldest_claimable_age_s is not None


def test_models_repr_never_prints_bodies_or_secrets(app):
    app.add_endpoint(name="s", path="/s", provider="generic-hmac", secrets=["topsecretvalue"])
    app.add_endpoint(name="a", path="/a")
    r = app.ingest(endpoint="a", body=b"card=4242424242424242", headers={"Authorization": "Bearer hunter2"})
    for obj in (r, app.get_event(r.event_id), app.get_delivery(r.delivery_id), app, app.endpoint("a", path="/a")):
        text = repr(obj)
        assert "4242" not in text and "hunter2" not in text and "topsecretvalue" not in text


def test_context_manager_and_closed(db_path):
    with knocker.open(db_path) as a:
        a.add_endpoint(name="a", path="/a")
        assert not a.closed
    assert a.closed
    with pytest.raises(knocker.ClosedError) as ei:
        a.get_event(1)
    assert ei.value.code == "closed"


def test_open_options_and_schema_too_new(db_path):
    a = knocker.Knocker(db_path, visibility_timeout_s=5, max_attempts=7, busy_timeout_ms=100, synchronous="full")
    assert a.max_attempts == 7 and a.options["synchronous"] == "full" and a.queue_name == "knocker.events"
    a.close()
    with pytest.raises(ValueError):
        knocker.open(db_path, synchronous="sometimes")
    with pytest.raises(ValueError):
        knocker.open(db_path, claim_batch=0)
    import sqlite3

    c = sqlite3.connect(db_path)
    c.execute("PRAGMA user_version = 999")
    c.commit()
    c.close()
    with pytest.raises(knocker.SchemaTooNewError) as ei:
        knocker.open(db_path)
    assert ei.value.code == "schema_too_new"
