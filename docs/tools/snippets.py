#!/usr/bin/env python3
"""Extracts every code block of the book and executes the Python and JavaScript ones.

    docs/tools/snippets.py run      # execute python / js blocks, check rust blocks are doctests
    docs/tools/snippets.py list     # print every block with its file, line and verdict

Rules (docs/README.md):
- ```python blocks run with .venv/bin/python, each in a fresh temporary directory.
- ```js / ```javascript blocks run with `node`, each in a fresh temporary directory whose
  node_modules/knocker points at bindings-node (the locally built addon). A block with an
  `import` statement is written as .mjs, otherwise as .js (CommonJS).
- ```rust blocks are doc tests of the `knocker` crate: the file must be listed in the
  `book` module of bindings-rust/src/lib.rs (checked here; executed by `cargo test --doc`).
- A block that uses KNOCKER_DB gets a fresh copy of the fixture database (docs/tools/fixture.py):
  the operator snippets open "the app's file" the way an operator does, through $KNOCKER_DB.
- `python,ignore`, `js,ignore`, `rust,ignore` mark an illustration that is not executed; keep
  them rare. Every fence must name a language (rustdoc treats a bare fence as Rust).
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
SRC = DOCS / "src"
PYTHON = os.environ.get("DOCS_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
NODE = os.environ.get("DOCS_NODE", "node")
LIB_RS = ROOT / "bindings-rust" / "src" / "lib.rs"
TIMEOUT_S = 60

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
RUN_LANGS = {"python": "python", "py": "python", "js": "js", "javascript": "js", "rust": "rust"}
PLAIN_LANGS = {"sh", "bash", "console", "text", "toml", "json", "sql", "yaml", "jsonl", "ini", "ts", "typescript", "html", "diff", "svg"}


class Block:
    def __init__(self, path: Path, line: int, info: str, code: str) -> None:
        self.path, self.line, self.info, self.code = path, line, info, code
        parts = [p.strip() for p in info.split(",")]
        self.lang = parts[0].lower()
        self.flags = set(parts[1:])
        self.kind = RUN_LANGS.get(self.lang)
        self.ignored = bool(self.flags & {"ignore", "illustration"})

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(DOCS)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group(2), m.group(3).strip(), i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        out.append(Block(path, start, info, textwrap.dedent("\n".join(body)) + "\n"))
        i += 1
    return out


def all_blocks() -> list[Block]:
    out: list[Block] = []
    for p in sorted(SRC.rglob("*.md")):
        out.extend(blocks(p))
    return out


def lint(bs: list[Block]) -> list[str]:
    errors = []
    for b in bs:
        if not b.lang:
            errors.append(f"{b.where}: a code fence without a language (rustdoc would compile it as Rust)")
        elif b.kind is None and b.lang not in PLAIN_LANGS:
            errors.append(f"{b.where}: unknown code language {b.lang!r}")
    return errors


def rust_doctest_files() -> set[str]:
    text = LIB_RS.read_text(encoding="utf-8")
    return set(re.findall(r'include_str!\("\.\./\.\./docs/src/([^"]+)"\)', text))


_fixture_lock = None


def fixture_db(cache: dict) -> Path:
    if "path" not in cache:
        d = Path(tempfile.mkdtemp(prefix="knocker-docs-fixture-"))
        db = d / "app.db"
        subprocess.run([PYTHON, str(DOCS / "tools" / "fixture.py"), str(db)], check=True, timeout=TIMEOUT_S)
        cache["path"] = db
    return cache["path"]


def run_block(b: Block, fixture: Path) -> tuple[Block, bool, str, float]:
    work = Path(tempfile.mkdtemp(prefix="knocker-snippet-"))
    env = dict(os.environ)
    if "KNOCKER_DB" in b.code:
        db = work / "app.db"
        shutil.copyfile(fixture, db)
        # The fixture's last commits may still be in its WAL (Knocker checkpoints in the
        # background, not on close): copy it with the file, as a backup tool must.
        wal = Path(str(fixture) + "-wal")
        if wal.exists():
            shutil.copyfile(wal, str(db) + "-wal")
        env["KNOCKER_DB"] = str(db)
    else:
        env.pop("KNOCKER_DB", None)
    if b.kind == "python":
        f = work / "snippet.py"
        f.write_text(b.code, encoding="utf-8")
        cmd = [PYTHON, str(f)]
    else:
        nm = work / "node_modules"
        nm.mkdir()
        (nm / "knocker").symlink_to(ROOT / "bindings-node")
        esm = re.search(r"^import\s", b.code, re.M) is not None
        f = work / ("snippet.mjs" if esm else "snippet.js")
        f.write_text(b.code, encoding="utf-8")
        cmd = [NODE, str(f)]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        ok, out = p.returncode == 0, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        ok, out = False, f"timed out after {TIMEOUT_S}s\n{e.stdout or ''}{e.stderr or ''}"
    dt = time.monotonic() - t0
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    return b, ok, out, dt


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "run"
    bs = all_blocks()
    errors = lint(bs)
    if cmd == "list":
        for b in bs:
            verdict = "illustration" if b.ignored else ("run" if b.kind else "text")
            print(f"{b.where:45} {b.info:20} {verdict}")
        return 0
    included = rust_doctest_files()
    rust_files = sorted({str(b.path.relative_to(SRC)) for b in bs if b.kind == "rust" and not b.ignored})
    for f in rust_files:
        if f not in included:
            errors.append(f"docs/src/{f} has rust blocks but is not a doc test: add it to the `book` module of {LIB_RS.relative_to(ROOT)}")
    for f in sorted(included):
        if not (SRC / f).exists():
            errors.append(f"{LIB_RS.relative_to(ROOT)} includes docs/src/{f}, which does not exist")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    runnable = [b for b in bs if b.kind in ("python", "js") and not b.ignored]
    only = os.environ.get("DOCS_SNIPPETS_ONLY")
    if only:
        runnable = [b for b in runnable if only in str(b.path)]
    cache: dict = {}
    fixture = fixture_db(cache)
    failures = 0
    jobs = int(os.environ.get("DOCS_SNIPPET_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for b, ok, out, dt in pool.map(lambda b: run_block(b, fixture), runnable):
            if not ok:
                failures += 1
                print(f"FAIL {b.where} ({b.kind}, {dt:.1f}s)\n{out.rstrip()}\n", file=sys.stderr)
    shutil.rmtree(fixture.parent, ignore_errors=True)
    count = {k: sum(1 for b in bs if b.kind == k and not b.ignored) for k in ("python", "js", "rust")}
    if only:
        count.update({k: sum(1 for b in runnable if b.kind == k) for k in ("python", "js")})
    ignored = [b for b in bs if b.kind and b.ignored]
    print(
        f"snippets: {count['python']} python and {count['js']} javascript executed"
        f"{' (filtered)' if only else ''}, {failures} failed; {count['rust']} rust run as doc tests "
        f"(cargo test -p knocker --doc book::); {len(ignored)} illustration-only: "
        + ", ".join(b.where for b in ignored)
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
