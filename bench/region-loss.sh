#!/usr/bin/env bash
# Region loss restored into a DR lab: the scenario's wall time and RTO, and
# the restore into the DR lab against the backup's size, side by side with
# the plain `rebound backup restore` of the same backup.
#
#   [REBOUND_LAB=name] [DR_LAB=rebound-dr] [SIZES="0 32 128"] bench/region-loss.sh [RUNS]   (default 3 runs)
#
# Needs the target lab up with the demo app in rebound-demo (`rebound lab up
# && rebound demo deploy etcd`); the DR lab is brought up by `rebound run`
# (region lab-2) and left up. For each size (MiB of incompressible data
# written into the demo etcd under /bench/ by bench/etcdfill, once per size),
# each run:
#   1. `rebound run --scenario region-loss --dr-lab DR_LAB`: the built-in
#      region-loss scenario (a schedule every 30 s, every node of the lab
#      stopped, the newest backup restored into the DR lab). From its
#      report.json: the RTO, the restore into the DR lab (recoveryStarted to
#      recoveryFinished), the restored backup; and the command's wall time.
#   2. `rebound backup restore` of that same backup into another namespace of
#      the target lab: the duration it prints; then that namespace is
#      deleted (not timed).
#   3. Waits for the demo etcd to be Ready again in the target lab.
# The backup's size is what `rebound backup list -o json` says it holds.
# Prints medians (and each run's numbers).
set -euo pipefail
runs=${1:-3}
sizes=${SIZES:-0 32 128}
dr=${DR_LAB:-rebound-dr}
here=$(cd "$(dirname "$0")/.." && pwd)
rebound=${REBOUND_BINARY:-$here/bin/rebound}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
kubectl=${REBOUND_LAB_BINS:-$HOME/.cache/rebound/bin}/kubectl
export KUBECONFIG=$("$rebound" lab kubeconfig --path)
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.0f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ready() { "$kubectl" -n rebound-demo wait --for=jsonpath='{.status.readyReplicas}'=3 statefulset/etcd --timeout=5m >/dev/null; }

"$kubectl" get statefulset etcd -n rebound-demo >/dev/null || { echo "no demo etcd in rebound-demo: rebound lab up && rebound demo deploy etcd" >&2; exit 5; }
go build -o "$work/etcdfill" "$here/bench/etcdfill"
: >"$work/raw"
for mb in $sizes; do
  ready
  eps=$("$kubectl" -n rebound-demo get pods -l app.kubernetes.io/name=etcd -o jsonpath='{range .items[*]}http://{.status.podIP}:2379,{end}')
  "$work/etcdfill" -endpoints "${eps%,}" -mb "$mb"
  for i in $(seq "$runs"); do
    r=$work/$mb-$i; mkdir -p "$r"
    ready
    t=$(now)
    code=0
    "$rebound" run --scenario region-loss --dr-lab "$dr" --no-deploy --report-dir "$r" --format json >"$r/run.out" 2>&1 || code=$?
    wall=$(echo "($(now) - $t) * 1000" | bc -l)
    [ "$code" -le 1 ] || { cat "$r/run.out" >&2; exit 1; }
    read -r rto restore id lost < <(python3 -c '
import json,sys
s=json.load(open(sys.argv[1]))["scenarios"][0]
ev={e["kind"]:e["atMillis"] for e in s["events"]}
r=s["result"]
print(r["rtoMillis"], ev["recoveryFinished"]-ev["recoveryStarted"], r["restoredBackup"], r["lostCount"])' "$r/report.json")
    bytes=$("$rebound" backup list -o json | python3 -c 'import json,sys;print([b for b in json.load(sys.stdin) if b["ID"]==sys.argv[1]][0]["Bytes"])' "$id")
    ns=rebound-bench-plain
    "$rebound" backup restore "$id" -n "$ns" >"$r/restore.out" 2>&1 || { cat "$r/restore.out" >&2; exit 1; }
    plain=$(python3 -c '
import re,sys
m=re.search(r"^restored backup .* in (?:(\d+)m)?([\d.]+)(ms|s):", open(sys.argv[1]).read(), re.M)
print((int(m[1] or 0)*60000) + float(m[2])*(1 if m[3]=="ms" else 1000))' "$r/restore.out")
    "$kubectl" delete namespace "$ns" --wait=true --timeout=5m >/dev/null
    echo "$mb $bytes $rto $restore $plain $wall" >>"$work/raw"
    printf 'size %s MiB (backup %s bytes) run %d: RTO %.0f ms, restore into DR %.0f ms, plain backup restore %.0f ms, scenario command %.0f ms, %s writes lost (exit %d)\n' \
      "$mb" "$bytes" "$i" "$rto" "$restore" "$plain" "$wall" "$lost" "$code"
  done
done
echo
echo "$runs runs per size, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg):"
echo "| data written | backup holds (median) | RTO | restore into the DR lab | rebound backup restore, same backup | region-loss command, whole |"
echo "|---:|---:|---:|---:|---:|---:|"
for mb in $sizes; do
  col() { awk -v m="$mb" -v c="$1" '$1==m {print $c}' "$work/raw" | median; }
  echo "| $mb MiB | $(awk -v m="$mb" '$1==m {print $2}' "$work/raw" | median | awk '{printf "%.1f MiB", $1/1048576}') | $(col 3) ms | $(col 4) ms | $(col 5) ms | $(col 6) ms |"
done
