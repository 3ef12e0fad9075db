import asyncio
import sqlite3
import threading
import time

import pytest

import knocker


def run(coro):
    return asyncio.run(coro)


def test_ticker_keeps_ticking_while_a_1s_handler_runs(app):
    app.add_endpoint(name="a", path="/a")
    started = threading.Event()

    def slow(event, tx):
        started.set()
        time.sleep(1.0)

    app.add_handler(endpoint="a", handler=slow)

    async def main():
        stop = asyncio.Event()
        ticks = []

        async def ticker():
            while not stop.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        w = asyncio.create_task(app.run_worker(stop_event=stop, worker_id="w1"))
        app.ingest(endpoint="a", body=b"x")
        while not started.is_set():
            await asyncio.sleep(0.005)
        t0 = time.monotonic()
        # Ingest from the loop thread is not blocked by a handler that has not written yet.
        r = app.ingest(endpoint="a", body=b"y", dedupe_key="other")
        ingest_s = time.monotonic() - t0
        while app.get_event(1).status != "handled":
            await asyncio.sleep(0.01)
        stop.set()
        await w
        await t
        return ticks, ingest_s, r

    ticks, ingest_s, r = run(main())
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 50 and max(gaps) < 0.2, max(gaps)
    assert ingest_s < 0.2 and r.status_code == 204


def test_in_process_wakeup_and_stop(app):
    app.add_endpoint(name="a", path="/a")
    done = []
    app.add_handler(endpoint="a", handler=lambda e, tx: done.append(time.monotonic()))

    async def main():
        stop = asyncio.Event()
        w = asyncio.create_task(app.run_worker(stop_event=stop, idle_poll_s=5.0))
        await asyncio.sleep(0.2)  # the worker is idle, waiting up to 5 s
        t0 = time.monotonic()
        app.ingest(endpoint="a", body=b"x")
        while not done:
            await asyncio.sleep(0.005)
        latency = done[0] - t0
        t1 = time.monotonic()
        stop.set()
        await w
        return latency, time.monotonic() - t1

    latency, stop_s = run(main())
    assert latency < 1.0, latency  # woken by the commit, not by the 5 s poll
    assert stop_s < 1.0
    st = app.worker_states()
    assert len(st) == 1 and st[0].running is False and st[0].processed == 1


def test_stop_finishes_in_flight_and_releases_unstarted(app):
    app.add_endpoint(name="a", path="/a")
    entered = threading.Event()
    calls = []

    def h(event, tx):
        calls.append(event.id)
        entered.set()
        time.sleep(0.3)

    app.add_handler(endpoint="a", handler=h)
    for i in range(4):
        app.ingest(endpoint="a", body=b"%d" % i)

    async def main():
        stop = asyncio.Event()
        w = asyncio.create_task(app.run_worker(stop_event=stop, claim_batch=4))
        while not entered.is_set():
            await asyncio.sleep(0.005)
        stop.set()
        await w

    run(main())
    statuses = sorted(e.status for e in app.list_events())
    assert len(calls) == 1
    assert statuses == ["handled", "received", "received", "received"]
    assert app.stats().claimable == 3


def test_cancel_stops_the_thread(app):
    app.add_endpoint(name="a", path="/a")

    async def main():
        w = asyncio.create_task(app.run_worker(worker_id="c"))
        await asyncio.sleep(0.2)
        w.cancel()
        with pytest.raises(asyncio.CancelledError):
            await w

    run(main())
    assert app.worker_states()[0].running is False


def test_two_workers_share_work(app):
    app.add_endpoint(name="a", path="/a")
    seen = []
    app.add_handler(endpoint="a", handler=lambda e, tx: seen.append(e.id))
    for i in range(20):
        app.ingest(endpoint="a", body=b"%d" % i)

    async def main():
        stop = asyncio.Event()
        ws = [asyncio.create_task(app.run_worker(worker_id=f"w{i}", stop_event=stop, claim_batch=2)) for i in range(2)]
        while app.stats().by_status.get("handled", 0) < 20:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*ws)

    run(main())
    # Each event is handled exactly once (one committed 'handled' attempt). A handler may be
    # invoked a second time inside the same attempt when core retries a DEFERRED transaction
    # under IMMEDIATE after a write conflict; the first run's writes were rolled back.
    assert set(seen) == set(range(1, 21))
    for i in range(1, 21):
        assert [a.outcome for a in app.list_attempts(i)] == ["handled"]
    assert [s.worker_id for s in app.worker_states()] == ["w0", "w1"]


def _break_schema(db_path):
    c = sqlite3.connect(db_path)
    c.execute("ALTER TABLE knocker_events RENAME TO knocker_events_gone")
    c.commit()
    c.close()


def test_on_error_called_awaited_and_replacing(app, db_path):
    app.add_endpoint(name="a", path="/a")
    seen = []

    async def on_error(exc):
        seen.append(exc)

    async def main(handler):
        return await app.run_worker(worker_id="bad", on_error=handler, idle_poll_s=0.05)

    _break_schema(db_path)
    with pytest.raises(knocker.KnockerError):
        run(main(on_error))
    assert len(seen) == 1 and isinstance(seen[0], knocker.KnockerError)
    st = {s.worker_id: s for s in app.worker_states()}["bad"]
    assert st.last_error and st.running is False

    class Replaced(Exception):
        pass

    def raising(exc):
        raise Replaced("from on_error")

    with pytest.raises(Replaced):
        run(main(raising))


def test_run_worker_argument_checks(app):
    with pytest.raises(ValueError):
        run(app.run_worker(idle_poll_s=0))

    async def pre_stopped():
        ev = asyncio.Event()
        ev.set()
        await app.run_worker(stop_event=ev)

    run(pre_stopped())


def test_threads_receive_concurrently(app):
    app.add_endpoint(name="a", path="/a")
    errors = []

    def work(n):
        try:
            for i in range(100):
                assert app.ingest(endpoint="a", body=b"%d-%d" % (n, i)).status_code == 204
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and app.stats().by_status["received"] == 400


def test_gil_released_during_sqlite_work(app):
    """A Python thread keeps running while another thread waits inside SQLite (busy lock)."""
    app.add_endpoint(name="a", path="/a")
    import sqlite3 as s

    c = s.connect(app.db_path, isolation_level=None, timeout=0.1)
    c.execute("BEGIN IMMEDIATE")  # hold the write lock so the ingest below waits in busy_timeout
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    res = {}

    def ingest():
        res["r"] = app.ingest(endpoint="a", body=b"x")

    it = threading.Thread(target=ingest)
    it.start()
    time.sleep(0.3)
    before = counter[0]
    time.sleep(0.2)
    progressed = counter[0] - before
    c.execute("COMMIT")
    c.close()
    it.join(10)
    stop.set()
    t.join()
    assert progressed > 1000
    assert res["r"].status_code == 204
