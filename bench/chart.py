#!/usr/bin/env python3
"""Draws the Performance page's chart from a `make bench` result (no plotting library needed).

    python3 bench/chart.py bench/results/rust.json docs/src/images/throughput.svg

Bars: receipts/s for 1, 2, 4, 8 and 16 concurrent producers on one handle, drain with handler
batching off and on, and the bare one-row-commit limit measured in the same run (dashed line).
"""
import json
import sys
from html import escape


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    r = json.load(open(src))
    series = {s["name"]: s for s in r["series"]}
    bare = series["bare one-row commit (limit)"]["per_s"]
    bars = [(f"ingest, {c['producers']} producer{'s' if c['producers'] > 1 else ''}", c["per_s"]) for c in r["concurrency"]]
    for d in r["drain_batching"]:
        bars.append((f"drain, handler_batch={d['handler_batch']}", d["per_s"]))
    w, bar_h, gap, left, top = 760, 26, 10, 230, 40
    h = top + len(bars) * (bar_h + gap) + 50
    top_value = max([v for _, v in bars] + [bare]) * 1.1
    x = lambda v: left + (w - left - 40) * v / top_value
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold">Receipts and events per second (Rust API, release build)</text>',
    ]
    for i, (label, v) in enumerate(bars):
        y = top + i * (bar_h + gap)
        color = "#3b7dd8" if label.startswith("ingest") else "#2f9e6e"
        parts.append(f'<text x="{left - 8}" y="{y + bar_h * 0.68}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{x(v) - left:.1f}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<text x="{x(v) + 6:.1f}" y="{y + bar_h * 0.68}">{v:,.0f}/s ({v / bare:.2f}x)</text>')
    bx = x(bare)
    y_end = top + len(bars) * (bar_h + gap)
    parts.append(f'<line x1="{bx:.1f}" y1="{top - 8}" x2="{bx:.1f}" y2="{y_end}" stroke="#c0392b" stroke-dasharray="5,4" stroke-width="2"/>')
    parts.append(f'<text x="{bx:.1f}" y="{y_end + 18}" text-anchor="end" fill="#c0392b">bare one-row commit limit: {bare:,.0f}/s</text>')
    m = r.get("machine", {})
    parts.append(f'<text x="{left}" y="{h - 8}" font-size="11" fill="#555">{escape(str(m.get("cpu") or ""))}, {m.get("cores")} cores, SQLite {escape(str(m.get("sqlite")))}; body {r.get("body_bytes")} B</text>')
    parts.append("</svg>")
    open(out, "w").write("\n".join(parts) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
