#!/usr/bin/env python3
"""Runs bench/python_bench.py against this binding and against the prior art side by side.

The prior art (PyPI ``knockerlite``, module ``knocker``, Python >= 3.12) is installed into its
own venv (default ``.venv-knockerlite`` at the repo root) with the first Python >= 3.12 found
(``$PRIOR_PYTHON``, ``~/.pyenv/versions/3.12*/bin/python``, ``python3.12``, ``python3.13``).
This binding runs with ``$KNOCKER_PYTHON`` (default ``.venv/bin/python``). Prints both JSON
results and a table with ratios (ours / prior art; for latency, prior art / ours): the two run
alternately for ``--rounds`` rounds (default 3) and each row shows the medians and every round's
ratio.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "python_bench.py")


def find_prior_python() -> str | None:
    cands = [os.environ.get("PRIOR_PYTHON")]
    cands += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python")))
    cands += [shutil.which("python3.12"), shutil.which("python3.13")]
    for c in cands:
        if c and os.path.exists(c):
            return c
    return None


def ensure_prior_venv() -> str:
    venv = os.environ.get("PRIOR_VENV", os.path.join(ROOT, ".venv-knockerlite"))
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        base = find_prior_python()
        if base is None:
            sys.exit("no Python >= 3.12 found for knockerlite; set PRIOR_PYTHON")
        subprocess.check_call([base, "-m", "venv", venv])
    if subprocess.call([py, "-c", "import knocker, sys; sys.exit(0 if hasattr(knocker, 'Knocker') else 1)"],
                       stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "knockerlite"])
    return py


def run(py: str, args: list[str]) -> dict:
    out = subprocess.check_output([py, BENCH, *args], cwd=ROOT)
    return json.loads(out)


ROWS = [
    ("ingest_seq", "per_s", "trusted ingest, one per call (/s)", False),
    ("ingest_8_threads", "per_s", "trusted ingest, 8 threads (/s)", False),
    ("drain_worker", "per_s", "drain by one worker, no-op handler (/s)", False),
    ("receive_generic_hmac", "per_s", "verified receive, generic HMAC (/s)", False),
    ("receive_stripe", "per_s", "verified receive, Stripe (/s)", False),
    ("list_events_50", "median_ms", "list_events(limit=50) median (ms)", True),
]


def main() -> None:
    args = sys.argv[1:]
    rounds = 7
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i : i + 2]
    ours_py = os.environ.get("KNOCKER_PYTHON", os.path.join(ROOT, ".venv", "bin", "python"))
    prior_py = ensure_prior_venv()
    # The machine's speed drifts within minutes: the two run alternately, and each row reports
    # the median of the rounds' paired ratios.
    pairs = []
    for _ in range(rounds):
        prior = run(prior_py, args)
        ours = run(ours_py, args)
        pairs.append((ours, prior))
    print(json.dumps([{"ours": o, "prior_art": p} for o, p in pairs], indent=2))
    print()
    print(f"{'shape':45} {'ours':>12} {'prior art':>12} {'ratio':>8}   rounds")
    for key, field, label, lower_is_better in ROWS:
        ratios, ours_v, prior_v = [], [], []
        for ours, prior in pairs:
            o, p = (ours.get(key) or {}).get(field), (prior.get(key) or {}).get(field)
            if o is None or p is None:
                continue
            ours_v.append(o)
            prior_v.append(p)
            ratios.append((p / o) if lower_is_better else (o / p))
        if not ratios:
            print(f"{label:45} {'n/a':>12} {'n/a':>12} {'n/a':>8}")
            continue
        med = lambda v: sorted(v)[len(v) // 2]
        each = ", ".join(f"{r:.1f}" for r in ratios)
        print(f"{label:45} {med(ours_v):>12} {med(prior_v):>12} {med(ratios):>7.1f}x   {each}")


if __name__ == "__main__":
    main()
