#!/usr/bin/env bash
# Lost acknowledged writes, failover RTO and time to full redundancy of the
# demo PostgreSQL (Patroni, 3 members over 3 zones) when the primary's node
# loses power for 30 s under rebound's write probe (8 writers × 100/s), in
# both replication modes: asynchronous (Patroni's default) and
# synchronous_mode: true.
#
#   [REBOUND_E2E_LAB=name] bench/postgres/failover.sh [RUNS]     (default 5 runs per mode)
#
# It runs the e2e test TestPostgresPrimaryNodeLossTruth with REBOUND_PG_RUNS
# set: the test brings up a lab of its own (REBOUND_E2E_LAB, default
# pgbench), deploys each variant in turn, checks every run's lost ids
# against its own SELECT of the probe table, and logs one "pg-failover"
# line per run, which this script tabulates with the medians. Needs root,
# the lab binaries (make lab-bins) and Debian's postgresql and patroni
# (make deps). Takes about 2 minutes per run.
set -euo pipefail
runs=${1:-5}
here=$(cd "$(dirname "$0")/../.." && pwd)
lab=${REBOUND_E2E_LAB:-pgbench}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$here"
go build -o bin/rebound ./cmd/rebound
status=0
REBOUND_E2E_LAB=$lab REBOUND_BINARY=$here/bin/rebound REBOUND_PG_RUNS=$runs \
  go test -count=1 -timeout $((runs * 10 + 20))m -run TestPostgresPrimaryNodeLossTruth -v ./test/e2e/ >"$work/log" 2>&1 || status=$?
grep -o 'pg-failover .*' "$work/log" >"$work/lines" || true
if [ "$status" -ne 0 ]; then
  tail -50 "$work/log" >&2
  echo "the e2e test failed (exit $status); runs so far:" >&2
fi
python3 - "$work/lines" <<'PY'
import re, statistics, sys
dur = lambda s: (float(s[:-2]) / 1000 if s.endswith("ms") else
                 sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"([\d.]+)([hms])", s)))
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    rows.setdefault(f["variant"], []).append(f)
for v, rs in rows.items():
    for f in rs:
        print(f"{v} run {f['run']}: lost {f['lost']} of {f['acked']} acked ({f['indeterminate']} indeterminate, {f.get('landed', '?')} of the unacknowledged in the table), RTO {f['rto']}, full redundancy after {f['tfull']}")
print()
print("| replication | runs | lost writes per run | median RTO | median time to full redundancy |")
print("| --- | --- | --- | --- | --- |")
for v, rs in rows.items():
    lost = ", ".join(f["lost"] for f in rs)
    print(f"| {v} | {len(rs)} | {lost} | {statistics.median(dur(f['rto']) for f in rs):.1f} s | {statistics.median(dur(f['tfull']) for f in rs):.1f} s |")
PY
exit "$status"
