import pytest

import knocker
from conftest import rows


@pytest.fixture
def ep(app):
    app.add_endpoint(name="a", path="/a")
    return app


def test_handler_writes_commit_with_handled(ep, db_path):
    seen = []

    @ep.handle(endpoint="a", event_type="t")
    def on_t(event, tx):
        tx.execute("CREATE TABLE IF NOT EXISTS biz (id INTEGER, body BLOB, f REAL, b INTEGER, n TEXT)")
        tx.execute("INSERT INTO biz VALUES (?, ?, ?, ?, ?)", [event.id, event.body, 1.5, True, None])
        seen.append((event.status, event.attempt_count, tx.query("SELECT count(*) AS n FROM biz")))

    r = ep.ingest(endpoint="a", body=b"payload", event_type="t")
    assert ep.drain() == 1
    assert seen == [("processing", 1, [{"n": 1}])]
    e = ep.get_event(r.event_id)
    assert e.status == "handled" and e.handled_at is not None and e.attempt_count == 1
    assert rows(db_path, "SELECT id, body, f, b, n FROM biz") == [{"id": r.event_id, "body": b"payload", "f": 1.5, "b": 1, "n": None}]
    assert [a.outcome for a in ep.list_attempts(r.event_id)] == ["handled"]


def test_failure_rolls_back_then_dead(ep, db_path):
    calls = []

    def boom(event, tx):
        calls.append((event.status, event.attempt_count))
        tx.execute("CREATE TABLE IF NOT EXISTS biz (x)")
        tx.execute("INSERT INTO biz VALUES (1)")
        raise RuntimeError("kaboom")

    ep.add_handler(endpoint="a", handler=boom)
    r = ep.ingest(endpoint="a", body=b"x")
    assert ep.drain() == 3
    e = ep.get_event(r.event_id)
    assert e.status == "dead" and e.attempt_count == 3 and "kaboom" in e.last_error
    assert [a.outcome for a in ep.list_attempts(r.event_id)] == ["failed", "failed", "dead"]
    assert [c[1] for c in calls] == [1, 2, 3]
    assert rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'biz'") == []
    # redelivery never revives a dead event
    r2 = ep.ingest(endpoint="a", body=b"x", dedupe_key=e.dedupe_key) if e.dedupe_key else None
    assert r2 is None or r2.duplicate


def test_retry_and_discard_signals(app):
    app.add_endpoint(name="a", path="/a", max_attempts=5)

    def retry_later(event, tx):
        raise knocker.Retry(after_s=3600, reason="downstream busy")

    def discard(event, tx):
        raise knocker.Discard("not ours")

    app.add_handler(endpoint="a", event_type="r", handler=retry_later)
    app.add_handler(endpoint="a", event_type="d", handler=discard)
    r = app.ingest(endpoint="a", body=b"1", event_type="r")
    d = app.ingest(endpoint="a", body=b"2", event_type="d")
    assert app.drain() == 2
    er, ed = app.get_event(r.event_id), app.get_event(d.event_id)
    assert er.status == "failed" and er.last_error == "downstream busy" and er.run_at - er.received_at > 3000
    assert ed.status == "dead" and ed.last_error == "not ours" and ed.attempt_count == 1
    assert app.drain() == 0  # the retry is not due yet


def test_no_handler_goes_dead_with_clear_error(ep):
    r = ep.ingest(endpoint="a", body=b"x", event_type="nohandler")
    assert ep.drain() == 1
    e = ep.get_event(r.event_id)
    assert e.status == "dead" and "no handler registered" in e.last_error and "nohandler" in e.last_error


def test_specific_handler_wins_over_endpoint_wide(ep):
    got = []
    ep.add_handler(endpoint="a", handler=lambda e, tx: got.append("wide"))
    ep.add_handler(endpoint="a", event_type="x", handler=lambda e, tx: got.append("x"))
    ep.ingest(endpoint="a", body=b"1", event_type="x")
    ep.ingest(endpoint="a", body=b"2", event_type="y")
    ep.drain()
    assert sorted(got) == ["wide", "x"]


def test_endpoint_helper(app):
    got = []
    hooks = app.endpoint("hooks", path="/hooks")

    @hooks.handle("ping")
    def ping(event, tx):
        got.append(event.event_type)

    hooks.add_handler(lambda e, tx: got.append("other"))
    assert hooks.ingest(body=b"1", event_type="ping").status_code == 204
    assert hooks.receive(body=b"2", event_type="pong").status_code == 204
    assert app.drain() == 2 and sorted(got) == ["other", "ping"]


def test_handler_validation_and_tx_lifetime(ep):
    async def coro(event, tx):
        pass

    with pytest.raises(TypeError):
        ep.add_handler(endpoint="a", handler=coro)
    with pytest.raises(TypeError):
        ep.add_handler(endpoint="a", handler="nope")
    kept = []

    def h(event, tx):
        kept.append(tx)
        with pytest.raises(TypeError, match="unsupported SQL parameter type"):
            tx.query("SELECT ?", [object()])
        with pytest.raises(TypeError):
            tx.query("SELECT ?", "x")
        assert tx.query("SELECT ? AS a, ? AS b", [2**40, "é"]) == [{"a": 2**40, "b": "é"}]
        with pytest.raises(knocker.StorageError):
            tx.execute("SELECT * FROM no_such_table")

    ep.add_handler(endpoint="a", handler=h)
    r = ep.ingest(endpoint="a", body=b"1")
    ep.drain()
    assert ep.get_event(r.event_id).status == "handled"
    with pytest.raises(RuntimeError, match="finished"):
        kept[0].query("SELECT 1")


def test_operator_actions(ep):
    ep.add_handler(endpoint="a", handler=lambda e, tx: None)
    r = ep.ingest(endpoint="a", body=b"1")
    with pytest.raises(ValueError) as ei:
        ep.replay(r.event_id)  # received cannot be replayed
    assert isinstance(ei.value, knocker.InvalidStateError) and "received" in str(ei.value)
    ep.ignore(r.event_id)
    ep.ignore(r.event_id)  # no-op
    assert ep.get_event(r.event_id).status == "ignored"
    assert ep.drain() == 0
    ep.requeue(r.event_id)
    e = ep.get_event(r.event_id)
    assert e.status == "received" and e.attempt_count == 0
    assert ep.drain() == 1 and ep.get_event(r.event_id).status == "handled"
    with pytest.raises(ValueError):
        ep.requeue(r.event_id)  # handled cannot be requeued
    with pytest.raises(ValueError):
        ep.ignore(r.event_id)
    ep.replay(r.event_id)
    assert ep.drain() == 1
    for fn in (ep.ignore, ep.replay, ep.requeue):
        with pytest.raises(KeyError):
            fn(999)


def test_replay_delivery_runs_with_that_deliverys_payload(ep):
    got = []
    ep.add_handler(endpoint="a", handler=lambda e, tx: got.append((e.body, e.event_type, e.id)))
    r1 = ep.ingest(endpoint="a", body=b"first", dedupe_key="k", event_type="one")
    r2 = ep.ingest(endpoint="a", body=b"second", dedupe_key="k", event_type="two")
    assert r2.duplicate
    assert ep.drain() == 1
    ep.replay_delivery(r2.delivery_id)
    assert ep.drain() == 1
    assert got == [(b"first", "one", r1.event_id), (b"second", "two", r1.event_id)]
    assert ep.get_event(r1.event_id).body == b"first"
    assert [a.delivery_id for a in ep.list_attempts(r1.event_id)] == [None, r2.delivery_id]
    orphan = ep.ingest(endpoint="a", body=b"x", signature_valid=False, signature_error="bad")
    with pytest.raises(ValueError) as ei:
        ep.replay_delivery(orphan.delivery_id)
    assert ei.value.code == "invalid_state"
    with pytest.raises(KeyError, match="unknown delivery id"):
        ep.replay_delivery(12345)
    r3 = ep.ingest(endpoint="a", body=b"new")
    with pytest.raises(ValueError):
        ep.replay_delivery(r3.delivery_id)  # its event is still received


def test_drain_max_events(ep):
    ep.add_handler(endpoint="a", handler=lambda e, tx: None)
    for i in range(5):
        ep.ingest(endpoint="a", body=b"%d" % i)
    assert ep.drain(max_events=2) == 2
    assert ep.drain() == 3


def test_handler_panicking_python_objects_do_not_crash(ep):
    class Weird(Exception):
        def __str__(self):
            raise ValueError("no str for you")

    def h(event, tx):
        raise Weird()

    ep.add_handler(endpoint="a", handler=h)
    r = ep.ingest(endpoint="a", body=b"1")
    assert ep.drain() >= 1
    assert ep.get_event(r.event_id).status in ("failed", "dead")
