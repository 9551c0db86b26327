#!/usr/bin/env bash
# Restore drill time for the lab's demo etcd, side by side with the
# backup engine's own `rebound backup restore` of the same backup.
#
#   [REBOUND_LAB=name] [PROBES=100] bench/drill.sh [RUNS]        (default 5 runs)
#
# Needs the lab up with the demo app in rebound-demo (`rebound lab up &&
# rebound demo deploy etcd`). Each run, on a repository of its own in a
# temporary folder:
#   1. `rebound drill` writes PROBES probe ids into the demo etcd, takes a
#      backup, restores it into a scratch namespace, verifies it (health,
#      probe ids, checksum) and deletes the namespace. From its report.json:
#      the time from the restore's start to a verified, serving copy, and
#      the restore part of it (verify every object + restore + Ready and
#      healthy, as `backup restore` does it); and the command's wall time.
#   2. `rebound backup restore` of that same backup into another namespace:
#      the duration it prints (the engine's, from the same start to Ready
#      and healthy) and the command's wall time. Then that namespace is
#      deleted (not timed).
# Prints medians (and each run's numbers).
set -euo pipefail
runs=${1:-5}
probes=${PROBES:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
rebound=${REBOUND_BINARY:-$here/bin/rebound}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
kubectl=${REBOUND_LAB_BINS:-$HOME/.cache/rebound/bin}/kubectl
export KUBECONFIG=$("$rebound" lab kubeconfig --path)
sel=app.kubernetes.io/name=etcd
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.0f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]))['scenarios'][0]['drill'];print(d['$1'] if d['$1'] is not None else 'nan')" "$2"; }

"$kubectl" get statefulset etcd -n rebound-demo >/dev/null || { echo "no demo etcd in rebound-demo: rebound lab up && rebound demo deploy etcd" >&2; exit 5; }
: >"$work/raw"
for i in $(seq "$runs"); do
  r=$work/run$i; mkdir -p "$r"
  "$rebound" backup init --repo "$r/repo" --new-key "$r/key" >/dev/null
  t=$(now)
  "$rebound" drill --repo "$r/repo" --key-file "$r/key" -n rebound-demo -l "$sel" --driver etcd --probes "$probes" \
    --report-dir "$r/report" --format json >"$r/drill.out" 2>&1 || { cat "$r/drill.out" >&2; exit 1; }
  drill_wall=$(echo "($(now) - $t) * 1000" | bc -l)
  verified=$(field timeToVerifiedMillis "$r/report/report.json")
  drill_restore=$(field restoreMillis "$r/report/report.json")
  id=$(field backup "$r/report/report.json")

  ns=rebound-bench-restore-$i
  t=$(now)
  "$rebound" backup restore "$id" -n "$ns" --repo "$r/repo" --key-file "$r/key" >"$r/restore.out" 2>&1 || { cat "$r/restore.out" >&2; exit 1; }
  restore_wall=$(echo "($(now) - $t) * 1000" | bc -l)
  # "restored backup 1a2b3c4d into namespace X in 4.321s: ..."
  restore_engine=$(python3 -c '
import re,sys
m=re.search(r"^restored backup .* in (?:(\d+)m)?([\d.]+)(ms|s):", open(sys.argv[1]).read(), re.M)
print((int(m[1] or 0)*60000) + float(m[2])*(1 if m[3]=="ms" else 1000))' "$r/restore.out")
  "$kubectl" delete namespace "$ns" --wait=true --timeout=5m >/dev/null
  echo "$verified $drill_restore $drill_wall $restore_engine $restore_wall" >>"$work/raw"
  printf 'run %d: drill verified %.0f ms (restore %.0f ms, command %.0f ms); backup restore %.0f ms (command %.0f ms)\n' \
    "$i" "$verified" "$drill_restore" "$drill_wall" "$restore_engine" "$restore_wall"
done
col() { awk -v c="$1" '{print $c}' "$work/raw" | median; }
echo
echo "demo etcd (3 members), $probes probe ids in the backup, $runs runs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg):"
echo "| what | median ms |"
echo "|---|---:|"
echo "| rebound drill: restore start → verified, serving copy | $(col 1) |"
echo "| rebound drill: of which the restore (verify objects, restore, Ready and healthy) | $(col 2) |"
echo "| rebound backup restore of the same backup (its printed duration) | $(col 4) |"
echo "| rebound drill, whole command (probe ids, backup, restore, checks, namespace deleted) | $(col 3) |"
echo "| rebound backup restore, whole command | $(col 5) |"
