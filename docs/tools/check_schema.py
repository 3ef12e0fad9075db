#!/usr/bin/env python3
"""Every table and column of a fresh Knocker database is documented on the schema page.

    .venv/bin/python docs/tools/check_schema.py

Opens a new file with the Python binding (which applies every migration), lists the tables and
columns with SQLite's pragmas, and checks that docs/src/schema.md has a `## <table>` section for
each table and names each column as `column` in that section. Columns documented but no longer
in the schema are reported too.
"""

import os
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

import knocker

PAGE = Path(__file__).resolve().parent.parent / "src" / "schema.md"


def sections(text):
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^## `?(knocker_[a-z_]+)`?", line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif line.startswith("## "):
            current = None
        elif current:
            out[current] += line + "\n"
    return out


def main():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "fresh.db")
    knocker.open(path).close()
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'knocker%' ORDER BY name")]
    version = con.execute("PRAGMA user_version").fetchone()[0]
    schema = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in tables}
    con.close()
    text = PAGE.read_text(encoding="utf-8")
    secs = sections(text)
    errors = []
    if f"schema version {version}" not in text:
        errors.append(f"schema.md must say 'schema version {version}'")
    for t, cols in schema.items():
        if t not in secs:
            errors.append(f"schema.md has no '## {t}' section")
            continue
        for c in cols:
            if f"`{c}`" not in secs[t]:
                errors.append(f"schema.md: column {t}.{c} is not documented")
        for c in re.findall(r"^\| `([a-z_0-9]+)` \|", secs[t], re.M):
            if c not in cols:
                errors.append(f"schema.md documents {t}.{c}, which a fresh database does not have")
    for t in secs:
        if t not in schema:
            errors.append(f"schema.md documents table {t}, which a fresh database does not have")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"schema: {len(schema)} tables, {sum(map(len, schema.values()))} columns documented (schema version {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
