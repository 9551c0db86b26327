#!/usr/bin/env bash
# RTO accuracy: pauses every member of the lab's demo etcd for exactly D
# seconds (a known injected outage) starting S seconds after the fault is
# ordered (T0; spec.fault.startAfter, a slow-onset fault), RUNS times for each
# S and D, and prints the measured RTO side by side with S + D. Needs the lab
# up with the demo app (`rebound run` or `rebound lab up && rebound demo
# deploy etcd`).
# Usage: [STARTS="0 12"] bench/rto-accuracy.sh [RUNS] [D...]
#   e.g. STARTS="0 5 12" bench/rto-accuracy.sh 3 2 5 10
set -euo pipefail
runs=${1:-3}; shift || true
[ $# -gt 0 ] && durations=("$@") || durations=(2 5 10)
here=$(cd "$(dirname "$0")/.." && pwd)
rebound=${REBOUND_BINARY:-$here/bin/rebound}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-8s %-8s %-10s %s\n' "start S" "pause D" "median RTO" "runs (RTO - (S+D), ms)"
for s in ${STARTS:-0}; do
for d in "${durations[@]}"; do
  cat > "$work/pause-$d.yaml" <<YAML
apiVersion: rebound.dev/v1alpha1
kind: Scenario
metadata: {name: pause-$d}
spec:
  disruption: node
  target:
    namespace: rebound-demo
    labelSelector: {matchLabels: {app.kubernetes.io/name: etcd}}
    driver: etcd
  fault: {kind: pause, duration: ${d}s, startAfter: ${s}s}
  probes: {availability: {interval: 100ms, stabilityWindow: 3s}}
  recovery: {path: self-heal, timeout: 1m}
YAML
  rtos=() deltas=()
  for i in $(seq "$runs"); do
    "$rebound" run -f "$work/pause-$d.yaml" --no-deploy --report-dir "$work/r" --format json >/dev/null 2>&1 || true
    rto=$(python3 -c "import json;r=json.load(open('$work/r/report.json'))['scenarios'][0]['result'];print(r.get('rtoMillis') or 'nan')")
    rtos+=("$rto"); deltas+=("$(printf '%+.0f' "$(echo "$rto - ($s+$d)*1000" | bc -l)")")
  done
  printf '%-8s %-8s %-10s %s\n' "${s}s" "${d}s" "$(printf '%s\n' "${rtos[@]}" | median | awk '{printf "%.0fms", $1}')" "${deltas[*]}"
done
done
echo "probe interval 100 ms: the goal is every |RTO - (S+D)| within one interval"
