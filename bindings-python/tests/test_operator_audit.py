"""Actor-attributed operator audit rows, app SQL on Knocker's connection, batching options,
and core's exact error codes on Python exceptions."""
import sqlite3

import pytest

import knocker


def test_operator_mutations_are_audited_with_the_handles_actor(tmp_path):
    db = str(tmp_path / "a.sqlite")
    app = knocker.open(db, actor="ops:alice")
    app.add_endpoint(name="p", path="/p")
    r = app.ingest(endpoint="p", body=b"{}")
    app.drain()  # no handler: dead
    app.requeue(r.event_id)
    with pytest.raises(knocker.InvalidStateError):
        app.requeue(r.event_id)  # received now: refused, and not audited
    app.ignore(r.event_id)
    audits = app.list_operator_audits()
    assert [(a.action, a.actor, a.ids) for a in audits] == [("ignore", "ops:alice", (r.event_id,)), ("requeue", "ops:alice", (r.event_id,))]
    assert app.list_operator_audits(action="requeue", limit=1)[0].affected == 1
    with pytest.raises(ValueError):
        app.list_operator_audits(limit=0)
    app.close()
    rows = sqlite3.connect(db).execute("SELECT action, actor FROM knocker_operator_audits ORDER BY id").fetchall()
    assert rows == [("requeue", "ops:alice"), ("ignore", "ops:alice")]


def test_execute_batch_runs_app_sql_on_knockers_connection(tmp_path):
    app = knocker.open(str(tmp_path / "b.sqlite"), handler_batch=1, handler_batch_max_ms=1)
    app.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO orders (note) VALUES ('a')")
    app.add_endpoint(name="p", path="/p")
    app.ingest(endpoint="p", body=b"{}")

    @app.handle(endpoint="p")
    def on(event, tx):
        tx.execute("INSERT INTO orders (note) VALUES (?)", ["from handler"])

    assert app.drain() == 1
    with pytest.raises(knocker.StorageError) as e:
        app.execute_batch("INSERT INTO no_such_table VALUES (1)")
    assert e.value.code == "storage"
    app.close()
    rows = sqlite3.connect(str(tmp_path / "b.sqlite")).execute("SELECT note FROM orders ORDER BY id").fetchall()
    assert rows == [("a",), ("from handler",)]
    with pytest.raises(knocker.InvalidArgumentError) as e:
        knocker.open(str(tmp_path / "c.sqlite"), handler_batch=0)
    assert e.value.code == "invalid_argument"


def test_errors_carry_cores_exact_code(tmp_path):
    app = knocker.open(str(tmp_path / "d.sqlite"))
    with pytest.raises(knocker.NotFoundError) as e:
        app.get_event(42)
    assert e.value.code == "not_found"
    assert issubclass(knocker.WalReplacedError, knocker.StorageError)
    assert knocker.WalReplacedError.code == "wal_replaced"
    app.close()


def test_dedupe_key_and_event_type_key_functions(tmp_path):
    app = knocker.open(str(tmp_path / "e.sqlite"))
    app.add_endpoint(
        name="p",
        path="/p",
        dedupe_key=lambda req: req.header("X-Id"),
        event_type_key=lambda req: req.header("X-Kind"),
    )
    a = app.ingest(endpoint="p", body=b"1", headers={"X-Id": "same", "X-Kind": "order.paid"})
    b = app.ingest(endpoint="p", body=b"2", headers={"X-Id": "same", "X-Kind": "order.paid"})
    assert b.duplicate and a.event_id == b.event_id
    ev = app.get_event(a.event_id)
    assert (ev.dedupe_key, ev.event_type) == ("same", "order.paid")
    app.close()
