#!/usr/bin/env bash
# Renders a report.html in headless Chromium and saves a full-page screenshot, so a person can LOOK at it.
# Not part of the test suite (CI has no browser).
#   reports/render-check.sh [REPORT_HTML] [OUT_PNG] [WIDTH]
# Defaults: runs/quickstart/report/report.html -> runs/quickstart/report/render-check.png, 1200 px wide.
# Needs Debian's chromium (apt-get install -y chromium).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HTML="$(realpath "${1:-$ROOT/runs/quickstart/report/report.html}")"
OUT="$(realpath -m "${2:-$(dirname "$HTML")/render-check.png}")"
WIDTH="${3:-1200}"
[[ -f "$HTML" ]] || { echo "render-check: $HTML not found (run ./run.sh first)" >&2; exit 2; }
BROWSER="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$BROWSER" ]] || { echo "render-check: chromium not found (apt-get install -y chromium)" >&2; exit 2; }
# The page height: enough for the whole report (charts are 540 px tall, scaled to the page width).
HEIGHT="${HEIGHT:-$(( 2500 + 700 * $(grep -o '<figure' "$HTML" | wc -l) ))}"
PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --disable-background-networking --disable-component-update --no-first-run --disable-sync \
  --user-data-dir="$PROFILE" --window-size="$WIDTH,$HEIGHT" --screenshot="$OUT" "file://$HTML" 2>/dev/null
[[ -s "$OUT" ]] || { echo "render-check: no screenshot written" >&2; exit 1; }
echo "render-check: $OUT (${WIDTH}x$HEIGHT); open it and look"
