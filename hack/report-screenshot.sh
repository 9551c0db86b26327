#!/usr/bin/env bash
# Takes a screenshot of a report.html in headless Chromium (Debian's, which
# `make deps` installs), with no network of its own, as the browser test
# does. docs/report.png is the default game day's, made with:
#   make gameday && hack/report-screenshot.sh rebound-report/report.html docs/report.png
# Usage: hack/report-screenshot.sh REPORT.html OUT.png [WIDTH,HEIGHT]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2; exit 2; }
report=$(realpath "$1"); out=$2; size=${3:-1280,2400}
command -v chromium >/dev/null || { echo "chromium is not installed: run make deps" >&2; exit 1; }
profile=$(mktemp -d); trap 'rm -rf "$profile"' EXIT
tmp="$out.tmp.png"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size="$size" --hide-scrollbars \
  --screenshot="$tmp" "file://$report" 2>/dev/null
mv "$tmp" "$out"
echo "wrote $out ($size) from $report"
