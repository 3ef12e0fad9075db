#!/usr/bin/env bash
# Renders the operator runbook page of each binding to PNG with headless Chromium, for a
# reviewer to look at the built HTML (not part of `make test`: it needs Debian's `chromium`).
#
#   make docs && docs/screenshot.sh [OUT_DIR]      # default OUT_DIR: docs/screenshots/
#
# Install Chromium with `apt-get install -y chromium` (Debian). No network is used: the pages
# are opened from docs/book/ with file:// URLs and every asset is local.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BOOK="$HERE/book"
OUT="${1:-$HERE/screenshots}"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$CHROMIUM" ]; then
  echo "chromium not found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)" >&2
  exit 1
fi
if [ ! -f "$BOOK/index.html" ]; then
  echo "no built book in $BOOK: run make docs first" >&2
  exit 1
fi
mkdir -p "$OUT"
PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
for binding in python node rust; do
  page="$BOOK/$binding/runbook.html"
  png="$OUT/runbook-$binding.png"
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --hide-scrollbars --window-size=1280,2400 \
    --screenshot="$png" "file://$page" >/dev/null 2>&1
  [ -s "$png" ] || { echo "no screenshot for $page" >&2; exit 1; }
  echo "$png"
done
