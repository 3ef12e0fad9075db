"""One SQLite contract across bindings: Node receives and Python's worker handles, and the
reverse. Both processes open the same file; nothing but the file is shared."""
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys

import knocker

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"interop-secret"


def node(mode, db):
    out = subprocess.run(["node", os.path.join(HERE, "node_side.js"), mode, db], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def python_app(db):
    app = knocker.open(db, backoff_base_s=0)
    app.add_endpoint(
        name="shop",
        path="/hooks/shop",
        provider="generic-hmac",
        secrets=[SECRET.decode()],
        provider_options={"header": "X-Signature", "id_header": "X-Delivery"},
    )
    return app


def test_node_receives_and_python_handles(tmp_path):
    db = str(tmp_path / "interop.sqlite")
    results = node("receive", db)
    assert [r["statusCode"] for r in results] == [204, 204, 204]
    assert [r["duplicate"] for r in results] == [False, False, True]
    assert results[2]["eventId"] == results[0]["eventId"]

    app = python_app(db)
    seen = []

    @app.handle(endpoint="shop")
    def on_order(event, tx):
        tx.execute("CREATE TABLE IF NOT EXISTS handled_by (event_id INTEGER PRIMARY KEY, runtime TEXT, body TEXT)")
        tx.execute("INSERT INTO handled_by (event_id, runtime, body) VALUES (?, ?, ?)", [event.id, "python", event.body.decode()])
        seen.append(event.provider_delivery_id)

    assert app.drain() == 2
    assert sorted(seen) == ["n-1", "n-2"]
    assert {e.status for e in app.list_events()} == {"handled"}
    app.close()
    rows = sqlite3.connect(db).execute("SELECT runtime, body FROM handled_by ORDER BY event_id").fetchall()
    assert rows == [("python", '{"order":"from-node-1"}'), ("python", '{"order":"from-node-2"}')]


def test_python_receives_and_node_handles(tmp_path):
    db = str(tmp_path / "interop.sqlite")
    app = python_app(db)
    for delivery, order in [("p-1", "from-python-1"), ("p-2", "from-python-2")]:
        body = json.dumps({"order": order}).encode()
        sig = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        r = app.receive(endpoint="shop", body=body, headers={"X-Signature": f"sha256={sig}", "X-Delivery": delivery})
        assert r.status_code == 204
    forged = app.receive(endpoint="shop", body=b"{}", headers={"X-Signature": "sha256=00", "X-Delivery": "p-x"})
    assert forged.status_code == 401
    app.close()

    assert node("drain", db) == {"drained": 2}

    app = knocker.open(db)
    events = app.list_events()
    assert sorted(e.status for e in events) == ["handled", "handled"]
    orphans = app.list_deliveries(orphaned=True)
    assert [d.signature_error is not None for d in orphans] == [True]
    app.close()
    rows = sqlite3.connect(db).execute("SELECT runtime, body FROM handled_by ORDER BY event_id").fetchall()
    assert rows == [("node", '{"order": "from-python-1"}'), ("node", '{"order": "from-python-2"}')]
