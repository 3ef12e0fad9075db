#!/usr/bin/env bash
# What the in-core metrics cost on the hot paths, in CPU instructions (deterministic: callgrind
# counts instructions, so the figure does not move with the machine's load). Runs the release
# bench harness under callgrind and compares the instructions spent recording metrics with the
# instructions of the calls they instrument.
#   bench/metrics_cost.sh            (needs valgrind: apt-get install -y valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p knocker-bench
out=$(mktemp)
valgrind --tool=callgrind --callgrind-out-file="$out" ./target/release/knocker-bench --n 300 --list-events 100 >/dev/null 2>&1
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | python3 -c '
import re, sys
calls = {}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+=> (.+) \(([\d,]+)x\)\s*$", line)
    if m:
        name = m.group(2)
        inst, n = calls.get(name, (0, 0))
        calls[name] = (inst + int(m.group(1).replace(",", "")), n + int(m.group(3).replace(",", "")))
def per(suffix):
    inst = sum(i for k, (i, n) in calls.items() if k.endswith(suffix))
    n = sum(n for k, (i, n) in calls.items() if k.endswith(suffix))
    return inst / n if n else None
rec, ing = per("Metrics::record_receipt"), per("knocker::Knocker::ingest")
rb, pb = per("record_batch_metrics"), per("Knocker>::process_batch")
if rec and ing:
    print(f"receipt: metrics {rec:,.0f} of {ing:,.0f} instructions per ingest = {100 * rec / ing:.2f} %")
if rb and pb:
    print(f"worker batch: metrics {rb:,.0f} of {pb:,.0f} instructions per batch = {100 * rb / pb:.2f} %")
'
rm -f "$out"
