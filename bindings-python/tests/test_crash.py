import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

import knocker
from conftest import PYTHON

CHILD = textwrap.dedent(
    """
    import sys, knocker
    app = knocker.open(sys.argv[1])
    app.add_endpoint(name="a", path="/a")
    out = sys.stdout
    i = 0
    while True:
        r = app.receive(endpoint="a", body=b"receipt-%d" % i, dedupe_key="k%d" % i)
        out.write("%d %d\\n" % (i, r.delivery_id))
        out.flush()
        i += 1
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_mid_receive_loses_nothing_that_returned(db_path):
    p = subprocess.Popen([PYTHON, "-c", CHILD, db_path], stdout=subprocess.PIPE)
    lines = []
    t0 = time.time()
    while len(lines) < 300 and time.time() - t0 < 30:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
    os.kill(p.pid, signal.SIGKILL)
    rest, _ = p.communicate()
    lines += rest.splitlines(keepends=True)
    returned = [tuple(map(int, ln.split())) for ln in lines if ln.endswith(b"\n")]
    assert len(returned) >= 300
    c = sqlite3.connect(db_path)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        c.close()
    app = knocker.open(db_path)
    try:
        for i, delivery_id in returned:
            d = app.get_delivery(delivery_id)
            assert d.body == b"receipt-%d" % i and d.event_id is not None
        stored = app.list_deliveries(limit=1000)
        assert len(app.list_events(limit=1000)) >= min(len(returned), 1000) or len(stored) == 1000
    finally:
        app.close()
