import asyncio
import json
import subprocess
import textwrap
import time

import pytest

import knocker
from conftest import PYTHON, rows


def _handled_event(app, body=b"x"):
    r = app.ingest(endpoint="a", body=body)
    app.drain()
    return r


@pytest.fixture
def ep(app):
    app.add_endpoint(name="a", path="/a")
    app.add_handler(endpoint="a", handler=lambda e, tx: None)
    return app


def test_prune_events_cascades_and_audits(ep, db_path):
    r1 = _handled_event(ep, b"1")
    _handled_event(ep, b"2")
    keep = ep.ingest(endpoint="a", body=b"fresh")  # received: never pruned
    cutoff = int(time.time()) + 10
    dry = ep.prune_events(statuses=["handled", "ignored"], older_than=cutoff, limit=10, dry_run=True)
    assert dry.dry_run and dry.events_pruned == 2 and ep.list_prune_audits() == []
    res = ep.prune_events(statuses=("handled", "handled"), older_than=cutoff, limit=10)
    assert (res.events_pruned, res.attempts_pruned, res.deliveries_pruned, res.live_jobs_pruned) == (2, 2, 2, 0)
    with pytest.raises(KeyError):
        ep.get_event(r1.event_id)
    assert ep.get_event(keep.event_id).status == "received"
    audits = ep.list_prune_audits()
    assert len(audits) == 1 and audits[0].kind == "prune_events" and audits[0].events_pruned == 2
    assert audits[0].queue_name == "knocker.events" and json.loads(audits[0].summary_json)
    zero = ep.prune_events(statuses=["dead"], older_than=cutoff, limit=5)
    assert zero.events_pruned == 0 and len(ep.list_prune_audits(kind="prune_events")) == 2
    assert rows(db_path, "SELECT count(*) AS n FROM knocker_prune_audits")[0]["n"] == 2


def test_prune_argument_validation(ep):
    with pytest.raises(TypeError):
        ep.prune_events(statuses="handled", older_than=1, limit=1)
    with pytest.raises(ValueError):
        ep.prune_events(statuses=[], older_than=1, limit=1)
    with pytest.raises(ValueError):
        ep.prune_events(statuses=["received"], older_than=1, limit=1)
    with pytest.raises(ValueError):
        ep.prune_events(statuses=["bogus"], older_than=1, limit=1)
    with pytest.raises(TypeError):
        ep.prune_events(statuses=["handled"], older_than=True, limit=1)
    with pytest.raises(ValueError):
        ep.prune_events(statuses=["handled"], older_than=1, limit=0)
    with pytest.raises(ValueError):
        ep.prune_orphan_deliveries(older_than=-1, limit=1)


def test_prune_orphans(ep):
    o = ep.ingest(endpoint="a", body=b"x", signature_valid=False, signature_error="bad")
    ep.ingest(endpoint="a", body=b"y")
    res = ep.prune_orphan_deliveries(older_than=int(time.time()) + 10, limit=100)
    assert res.deliveries_pruned == 1
    with pytest.raises(KeyError):
        ep.get_delivery(o.delivery_id)
    a = ep.list_prune_audits(kind="prune_orphan_deliveries")[0]
    assert a.events_pruned is None and a.attempts_pruned is None and a.live_jobs_pruned is None


def test_retention_policy_validation(ep):
    with pytest.raises(ValueError, match="at least one"):
        asyncio.run(ep.run_retention(knocker.RetentionPolicy(interval_s=1)))
    with pytest.raises(ValueError):
        asyncio.run(ep.run_retention(knocker.RetentionPolicy(interval_s=0, event_older_than_s=1)))
    with pytest.raises(ValueError):
        asyncio.run(ep.run_retention(knocker.RetentionPolicy(interval_s=1, event_older_than_s=True)))
    with pytest.raises(ValueError):
        asyncio.run(ep.run_retention(knocker.RetentionPolicy(interval_s=1, event_older_than_s=1, event_limit=0)))


def test_run_retention_in_process(ep):
    _handled_event(ep)
    ep.ingest(endpoint="a", body=b"o", signature_valid=False, signature_error="bad")
    policy = knocker.RetentionPolicy(interval_s=0.2, event_older_than_s=-0 or 0, orphan_deliveries_older_than_s=0)

    async def main():
        stop = asyncio.Event()
        t = asyncio.create_task(ep.run_retention(policy, stop_event=stop))
        await asyncio.sleep(1.5)  # received_at < now - 0 needs the clock to pass a second
        stop.set()
        await t

    asyncio.run(main())
    assert ep.list_events() == [] and ep.list_deliveries() == []
    kinds = {a.kind for a in ep.list_prune_audits()}
    assert kinds == {"prune_events", "prune_orphan_deliveries"}
    n = len(ep.list_prune_audits())
    time.sleep(0.5)
    assert len(ep.list_prune_audits()) == n  # nothing after stop


def test_run_retention_once_and_lease(ep, db_path):
    policy = knocker.RetentionPolicy(interval_s=60, event_older_than_s=0)
    other = knocker.open(db_path)
    try:
        ran1, ev, orph = ep.run_retention_once(policy, owner="p1")
        ran2, _, _ = other.run_retention_once(policy, owner="p2")
        assert ran1 and ev is not None and orph is None and not ran2
    finally:
        other.close()


RETENTION_CHILD = textwrap.dedent(
    """
    import asyncio, sys, knocker
    app = knocker.open(sys.argv[1])
    policy = knocker.RetentionPolicy(interval_s=0.5, event_older_than_s=0)
    async def main():
        stop = asyncio.Event()
        t = asyncio.create_task(app.run_retention(policy, stop_event=stop))
        await asyncio.sleep(float(sys.argv[2]))
        stop.set()
        await t
    asyncio.run(main())
    app.close()
    """
)


def test_retention_across_two_processes_never_runs_a_pass_twice(ep, db_path):
    duration = 3.0
    procs = [subprocess.Popen([PYTHON, "-c", RETENTION_CHILD, db_path, str(duration)]) for _ in range(2)]
    for p in procs:
        assert p.wait(60) == 0
    audits = ep.list_prune_audits(limit=1000)
    # One lease per 0.5 s interval across both processes: at most duration/interval + 1 passes
    # (two processes each running every interval would give about twice as many).
    assert 2 <= len(audits) <= int(duration / 0.5) + 2, len(audits)
    times = sorted(rows(db_path, "SELECT executed_at FROM knocker_prune_audits"), key=lambda r: r["executed_at"])
    assert times
