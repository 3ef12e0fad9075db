#!/usr/bin/env python3
"""Python benchmark of Knocker's published shapes; prints one JSON object.

Runs against whichever ``knocker`` module is importable, so the same script measures this
binding and the prior art (PyPI ``knockerlite``, whose module is also ``knocker``); see
``compare_prior_art.py``. Shapes:

- ``ingest_seq``: N trusted ingests, one call each (``ingest(endpoint=, body=)``);
- ``drain_worker``: N events drained by one ``run_worker`` with a no-op handler;
- ``receive_generic_hmac`` / ``receive_stripe``: N verified receives (signature checked);
- ``list_events_50``: ``list_events(limit=50)`` on a file with M events (median latency).

With ``--matrix`` (this binding only; the prior art has no handler batching), also the shapes
of the Rust harness: ``ingest_producers`` (1, 2, 4, 8, 16 threads on one handle, every receipt
checked stored), ``drain_batching`` (``drain()`` with ``handler_batch`` 1 and 16), ``mixed`` (4
producer threads while ``run_worker`` handles, enqueue-to-handled lag), and ``peak_rss_kib``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import knocker

SECRET = "whsec_bench_secret_0123456789"


def _open(path: str):
    return knocker.open(path)


def _close(app) -> None:
    close = getattr(app, "close", None)  # knockerlite 0.1.0 has no close()
    if close is not None:
        close()


def _impl() -> str:
    return "knocker (this repo)" if hasattr(knocker, "sqlite_sharing") else "knockerlite (prior art)"


def bench_ingest(d: str, n: int) -> dict:
    app = _open(os.path.join(d, "ingest.db"))
    app.add_endpoint(name="bench", path="/bench")
    body = b'{"id": "evt_%d", "type": "bench.event"}'
    t0 = time.perf_counter()
    for i in range(n):
        app.ingest(endpoint="bench", body=body % i, provider_event_id="evt_%d" % i)
    dt = time.perf_counter() - t0
    _close(app)
    return {"n": n, "seconds": round(dt, 4), "per_s": round(n / dt, 1)}


def _latency_us(lat: list) -> dict:
    lat.sort()
    pick = lambda q: round(lat[min(len(lat) - 1, int(len(lat) * q))] * 1e6, 1)  # noqa: E731
    return {"p50_us": pick(0.50), "p99_us": pick(0.99), "max_us": round(lat[-1] * 1e6, 1)} if lat else {}


def bench_ingest_threads(d: str, n: int, threads: int, check_stored: bool = False) -> dict:
    """`threads` threads share one handle and ingest n receipts in total (a threaded WSGI shape),
    with each call's latency. ``check_stored`` (this binding only) fails unless every receipt
    became an event."""
    import threading

    app = _open(os.path.join(d, "ingest-%d-threads-%d.db" % (threads, n)))
    app.add_endpoint(name="bench", path="/bench")
    body = b'{"id": "evt_%d", "type": "bench.event"}'
    per = n // threads
    errors: list = []
    lat: list = []
    barrier = threading.Barrier(threads + 1)

    def work(t: int) -> None:
        mine = []
        barrier.wait()
        try:
            for i in range(per):
                t0 = time.perf_counter()
                app.ingest(endpoint="bench", body=body % (t * per + i), provider_event_id="evt_%d_%d" % (t, i))
                mine.append(time.perf_counter() - t0)
        except Exception as e:  # the prior art may fail with "database is locked"
            errors.append(repr(e))
        lat.extend(mine)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    if check_stored:
        stored = app.stats().by_status.get("received", 0)
        if errors or stored != per * threads:
            raise SystemExit(f"{threads} threads: {stored} events stored of {per * threads}; errors {errors[:3]}")
    _close(app)
    return {"n": per * threads, "threads": threads, "seconds": round(dt, 4), "per_s": round(per * threads / dt, 1), "errors": errors[:3], **_latency_us(lat)}


def bench_drain_batching(d: str, n: int, handler_batch: int) -> dict:
    app = knocker.open(os.path.join(d, "drain-batch-%d.db" % handler_batch), handler_batch=handler_batch)
    app.add_endpoint(name="bench", path="/bench")
    for i in range(n):
        app.ingest(endpoint="bench", body=b"{}", provider_event_id="e%d" % i)
    app.add_handler(endpoint="bench", handler=lambda event, tx: None)
    t0 = time.perf_counter()
    done = app.drain()
    dt = time.perf_counter() - t0
    _close(app)
    if done != n:
        raise SystemExit(f"handler_batch={handler_batch}: drained {done} of {n}")
    return {"n": n, "handler_batch": handler_batch, "seconds": round(dt, 4), "per_s": round(n / dt, 1)}


def bench_mixed(d: str, n: int, producers: int = 4) -> dict:
    """`producers` threads ingest n receipts while one run_worker handles them on the same handle."""
    import threading

    app = _open(os.path.join(d, "mixed.db"))
    app.add_endpoint(name="bench", path="/bench")
    per = n // producers
    total = per * producers
    lags: list = []
    done = threading.Event()

    def handler(event, tx) -> None:
        lags.append(time.perf_counter() - json.loads(event.body)["t"])
        if len(lags) >= total:
            done.set()

    app.add_handler(endpoint="bench", handler=handler)

    async def main() -> tuple:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        worker = loop.create_task(app.run_worker(stop_event=stop, idle_poll_s=0.05))
        barrier = threading.Barrier(producers + 1)

        def work(t: int) -> None:
            barrier.wait()
            for i in range(per):
                body = json.dumps({"t": time.perf_counter(), "i": i}).encode()
                app.ingest(endpoint="bench", body=body, provider_event_id="m%d_%d" % (t, i))

        ts = [threading.Thread(target=work, args=(t,)) for t in range(producers)]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        await loop.run_in_executor(None, lambda: [t.join() for t in ts])
        ingest_dt = time.perf_counter() - t0
        await loop.run_in_executor(None, done.wait, 60)
        handled_dt = time.perf_counter() - t0
        stop.set()
        await worker
        return ingest_dt, handled_dt

    ingest_dt, handled_dt = asyncio.run(main())
    _close(app)
    if len(lags) != total:
        raise SystemExit(f"mixed: handled {len(lags)} of {total}")
    lags.sort()
    pick = lambda q: round(lags[min(len(lags) - 1, int(len(lags) * q))] * 1000, 1)  # noqa: E731
    return {
        "n": total,
        "producers": producers,
        "ingest_per_s": round(total / ingest_dt, 1),
        "handled_per_s": round(total / handled_dt, 1),
        "lag_ms": {"p50": pick(0.50), "p99": pick(0.99), "max": round(lags[-1] * 1000, 1)},
    }


def bench_drain(d: str, n: int) -> dict:
    app = _open(os.path.join(d, "drain.db"))
    app.add_endpoint(name="bench", path="/bench")
    for i in range(n):
        app.ingest(endpoint="bench", body=b"{}", provider_event_id="e%d" % i)
    count = [0]

    async def main() -> float:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def noop(event, tx):
            count[0] += 1
            if count[0] >= n:
                loop.call_soon_threadsafe(stop.set)

        app.add_handler(endpoint="bench", handler=noop)
        t0 = time.perf_counter()
        await app.run_worker(stop_event=stop)
        return time.perf_counter() - t0

    dt = asyncio.run(main())
    _close(app)
    return {"n": n, "handled": count[0], "seconds": round(dt, 4), "per_s": round(n / dt, 1)}


def _stripe_header(body: bytes, t: int) -> str:
    sig = hmac.new(SECRET.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


def bench_receive(d: str, n: int, kind: str) -> dict:
    app = _open(os.path.join(d, f"receive-{kind}.db"))
    if kind == "stripe":
        app.add_endpoint(name="bench", path="/bench", provider="stripe", secrets=[SECRET])
    else:
        app.add_endpoint(
            name="bench",
            path="/bench",
            verification={"kind": "hmac-sha256", "header": "X-Signature", "secrets": [SECRET]},
        )
    reqs = []
    now = int(time.time())
    for i in range(n):
        body = json.dumps({"id": f"evt_{i}", "type": "invoice.paid", "data": {"object": {"amount": i}}}).encode()
        if kind == "stripe":
            headers = {"Stripe-Signature": _stripe_header(body, now)}
        else:
            headers = {"X-Signature": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
        reqs.append((body, headers))
    t0 = time.perf_counter()
    ok = 0
    for body, headers in reqs:
        r = app.receive(endpoint="bench", body=body, headers=headers)
        ok += r.status_code == 204
    dt = time.perf_counter() - t0
    _close(app)
    return {"n": n, "accepted": ok, "seconds": round(dt, 4), "per_s": round(n / dt, 1)}


def bench_list(d: str, m: int, calls: int) -> dict:
    app = _open(os.path.join(d, "list.db"))
    app.add_endpoint(name="bench", path="/bench")
    for i in range(m):
        app.ingest(endpoint="bench", body=b'{"n": %d}' % i, provider_event_id="e%d" % i)
    app.list_events(limit=50)
    lat = []
    for _ in range(calls):
        t0 = time.perf_counter()
        evs = app.list_events(limit=50)
        lat.append(time.perf_counter() - t0)
    assert len(evs) == 50
    _close(app)
    lat.sort()
    return {
        "events": m,
        "calls": calls,
        "median_ms": round(statistics.median(lat) * 1000, 3),
        "p95_ms": round(lat[int(len(lat) * 0.95) - 1] * 1000, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="ingests, drained events and receives")
    ap.add_argument("--list-events", type=int, default=50_000, help="events in the list_events file")
    ap.add_argument("--list-calls", type=int, default=200)
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--matrix", action="store_true", help="also the producer matrix, drain batching and mixed load")
    a = ap.parse_args()
    has_stripe = False
    try:
        probe = _open(os.path.join(tempfile.mkdtemp(), "probe.db"))
        probe.add_endpoint(name="probe", path="/probe", provider="stripe", secrets=[SECRET])
        has_stripe = True
        _close(probe)
    except Exception:
        pass
    with tempfile.TemporaryDirectory() as d:
        res = {
            "implementation": _impl(),
            "python": platform.python_version(),
            "machine": f"{platform.machine()} {os.cpu_count()} cpus",
            "ingest_seq": bench_ingest(d, a.n),
            "ingest_8_threads": bench_ingest_threads(d, a.n, 8),
            "drain_worker": bench_drain(d, a.n),
            "receive_generic_hmac": bench_receive(d, a.n, "hmac"),
            "receive_stripe": bench_receive(d, a.n, "stripe") if has_stripe else None,
            "list_events_50": bench_list(d, a.list_events, a.list_calls),
        }
        if a.matrix:
            res["ingest_producers"] = [bench_ingest_threads(d, 2 * a.n, t, check_stored=True) for t in (1, 2, 4, 8, 16)]
            off, on = bench_drain_batching(d, a.n, 1), bench_drain_batching(d, a.n, 16)
            res["drain_batching"] = {"handler_batch_1": off, "handler_batch_16": on, "ratio": round(on["per_s"] / off["per_s"], 2)}
            res["mixed"] = bench_mixed(d, 2 * a.n)
            import resource

            res["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
