#!/usr/bin/env bash
# report.html's size and render time, for the default game day and for a
# 50-scenario run (issue 11's goal: under 2 MiB and under 1 s in Chromium).
#
#   bench/html-report.sh [RUNS]        (default 7 runs)
#
# The pages are the ones reports' tests render: the default game day is
# reports/testdata/gameday-report.json (the report.json of a real
# `make gameday` on the lab) read back and rendered again; the 50-scenario
# run is the tests' bigRun (flapping probes and 500 lost writes included).
#   1. Size of each report.html, and the Go time to render it
#      (`go test ./reports -bench BenchmarkHTML`, median of 5).
#   2. Chromium: headless Debian chromium, flags as in reports/browser_test.go
#      (no network of its own, a fresh --user-data-dir per launch), against
#      the same for an empty page:
#      - load: the page with a few lines of script appended that, once the
#        page's load event has run (its own overflow check, which lays it
#        out, included), forces layout, notes performance.now() (the
#        in-page time from navigation start) and empties the DOM so that
#        --dump-dom has next to nothing to print. Reported: that in-page
#        time, and the wall time from launching chromium to its exit.
#      - screenshot: the page as written; the wall time of --screenshot
#        (load, layout and paint of a 1280x2000 window).
#      Runs interleave the three pages so that the shared machine's noise
#      falls on all of them. Medians.
set -euo pipefail
runs=${1:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "$chromium is not installed: run make deps" >&2; exit 5; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cd "$here"
go test -count=1 ./reports/ -run '^TestHTMLStaysSmall$' -args -html-dir "$work" >/dev/null
printf '<!doctype html><html><head><meta charset="utf-8"><title>empty</title></head><body></body></html>\n' >"$work/empty.html"
pages="empty gameday run50"

echo "== size"
for p in gameday run50; do
  size=$(stat -c %s "$work/$p.html")
  printf '%-8s %9d bytes (%.2f MiB)\n' "$p" "$size" "$(echo "$size / 1048576" | bc -l)"
done

echo "== Go: render report.html (median of 5)"
go test -count=5 ./reports/ -run '^$' -bench '^BenchmarkHTML$' -benchtime 20x >"$work/gobench"
for b in gameday 50-scenarios; do
  ns=$(awk -v b="BenchmarkHTML/$b-" 'index($1, b) == 1 {print $3}' "$work/gobench" | median)
  printf '%-12s %8.1f ms\n' "$b" "$(echo "$ns / 1000000" | bc -l)"
done

# After the page's own load handlers: lay out, note the time, empty the DOM.
cat >"$work/probe.html" <<'END'
<script>addEventListener("load",()=>{document.body.getBoundingClientRect();const t=performance.now();const h=document.documentElement;h.replaceChildren();h.setAttribute("data-loaded",t.toFixed(1))})</script>
END
for p in $pages; do cat "$work/$p.html" "$work/probe.html" >"$work/probed-$p.html"; done

# chrome MODE PAGE: one launch; prints its wall time in ms (load mode: and
# the page's in-page load time).
chrome() {
  local profile t wall dom
  profile=$(mktemp -d -p "$work")
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile" --window-size=1280,2000)
  t=$(now)
  case $1 in
    load) dom=$("$chromium" "${flags[@]}" --dump-dom "file://$work/probed-$2.html" 2>/dev/null) ;;
    screenshot)
      "$chromium" "${flags[@]}" --screenshot="$profile/shot.png" "file://$work/$2.html" >/dev/null 2>&1
      [ -s "$profile/shot.png" ] || { echo "no screenshot of $2.html" >&2; return 1; } ;;
  esac
  wall=$(echo "($(now) - $t) * 1000" | bc -l)
  rm -rf "$profile"
  if [ "$1" = load ]; then
    [[ $dom =~ data-loaded=\"([0-9.]+)\" ]] || { echo "$2.html: the page's load time did not come back: $dom" >&2; return 1; }
    echo "$wall ${BASH_REMATCH[1]}"
  else
    echo "$wall"
  fi
}

# report TITLE MODE COLUMN: medians of one measure, against the empty page.
report() {
  local base m
  echo "== $1, $runs runs each (median ms; each run's ms)"
  base=$(awk -v c="$3" '{print $c}' "$work/$2.empty" | median)
  for p in $pages; do
    m=$(awk -v c="$3" '{print $c}' "$work/$2.$p" | median)
    printf '%-8s %7.1f ms  %+7.1f ms over empty  (x%.2f)   runs: %s\n' "$p" "$m" "$(echo "$m - $base" | bc -l)" \
      "$(echo "$m / $base" | bc -l)" "$(awk -v c="$3" '{printf "%.0f ", $c}' "$work/$2.$p")"
  done
}

chrome screenshot empty >/dev/null # warm the page cache with chromium's own files
for mode in load screenshot; do
  for p in $pages; do : >"$work/$mode.$p"; done
  for i in $(seq "$runs"); do
    for p in $pages; do chrome "$mode" "$p" >>"$work/$mode.$p"; done
  done
done
report "Chromium load, in-page (navigation start to load event done and laid out)" load 2
report "Chromium load, wall (launch to exit; --dump-dom of an emptied DOM)" load 1
report "Chromium --screenshot, wall (launch to exit: load, layout, paint)" screenshot 1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
