#!/usr/bin/env bash
# Build the Python binding into a venv and run its tests. Idempotent; fast when up to date.
#   bindings-python/dev.sh setup   # venv + tools + libsqlite3-dev + maturin develop
#   bindings-python/dev.sh test    # setup, then pytest bindings-python/tests
#   bindings-python/dev.sh bench   # setup, then bench/python_bench.py
# Env: PYTHON (default python3.11), VENV (default <repo>/.venv), CARGO_TARGET_DIR (shared cache).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-$ROOT/.venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

ensure_libsqlite3_dev() {
  # The extension links the interpreter's shared libsqlite3 (one SQLite per process).
  if [ -e /usr/include/sqlite3.h ] || pkg-config --exists sqlite3 2>/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev >/dev/null
  else
    echo "libsqlite3-dev (sqlite3.h) is missing: install it, or build with MATURIN_ARGS='--features bundled'" >&2
    exit 1
  fi
}

setup() {
  ensure_libsqlite3_dev
  if [ ! -x "$VENV/bin/python" ]; then "$PYTHON" -m venv "$VENV"; fi
  if ! "$VENV/bin/python" -c "import maturin, pytest, mypy, prometheus_client" 2>/dev/null; then
    "$VENV/bin/pip" install -q --disable-pip-version-check maturin pytest mypy prometheus_client
  fi
  (cd "$HERE" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop -q ${MATURIN_ARGS:-})
}

case "${1:-test}" in
  setup) setup ;;
  test) setup; "$VENV/bin/python" -m pytest -q "$HERE/tests" "${@:2}" ;;
  bench) setup; "$VENV/bin/python" "$ROOT/bench/python_bench.py" "${@:2}" ;;
  *) echo "usage: $0 [setup|test|bench]" >&2; exit 2 ;;
esac
