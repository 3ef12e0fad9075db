#!/usr/bin/env python3
"""Every binding has its part with the four per-binding pages, titled and listed in SUMMARY.md.

    docs/tools/check_pages.py
"""

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
BINDINGS = {"python": "Python", "node": "Node", "rust": "Rust"}
PAGES = {
    "operator-surface.md": "Operator surface",
    "runbook.md": "Operator runbook",
    "retention.md": "Retention and pruning",
    "worker.md": "Worker",
    "observability.md": "Observability",
}
# Calls each binding's pages must show, in that binding's own names (not renamed copies).
MUST_MENTION = {
    "python": ["replay_delivery", "prune_orphan_deliveries", "worker_states", "on_error", "dry_run"],
    "node": ["replayDelivery", "pruneOrphanDeliveries", "workerStates", "onError", "dryRun"],
    "rust": ["replay_delivery", "prune_orphan_deliveries", "worker_states", "on_error", "dry_run"],
}


def main():
    errors = []
    summary = (SRC / "SUMMARY.md").read_text(encoding="utf-8")
    for b, label in BINDINGS.items():
        if not re.search(rf"^# {label}\s*$", summary, re.M):
            errors.append(f"SUMMARY.md has no part titled '# {label}'")
        text_all = ""
        for f, title in PAGES.items():
            rel = f"{b}/{f}"
            p = SRC / rel
            if not p.exists():
                errors.append(f"binding {b} lacks the page {title!r} (docs/src/{rel})")
                continue
            text = p.read_text(encoding="utf-8")
            text_all += text
            first = next((l for l in text.splitlines() if l.startswith("# ")), "")
            if not first.startswith(f"# {title}"):
                errors.append(f"docs/src/{rel}: first heading must start with '# {title}', got {first!r}")
            if f"({rel})" not in summary:
                errors.append(f"SUMMARY.md does not list {rel}")
        for word in MUST_MENTION[b]:
            if text_all and word not in text_all:
                errors.append(f"the {label} pages never mention {word!r}")
        extra = sorted(p.name for p in (SRC / b).glob("*.md") if p.name not in PAGES) if (SRC / b).exists() else []
        if extra:
            errors.append(f"docs/src/{b}/ has pages beyond the four: {extra}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"pages: {len(BINDINGS)} bindings x {len(PAGES)} pages present and listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
