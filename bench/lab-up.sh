#!/usr/bin/env bash
# Times `rebound lab up` until the demo etcd app is Ready, and `rebound lab
# down`, side by side with plain `kwokctl create cluster` / `delete cluster`
# on the same binaries, RUNS times each, interleaved; prints each run and
# the medians, and the median of each pod's network set-up (from the
# agent's log) over the demo's pods. Usage: bench/lab-up.sh [RUNS]   (needs root, make lab-bins)
set -euo pipefail
runs=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
bins=${REBOUND_LAB_BINS:-$HOME/.cache/rebound/bin}
rebound=${REBOUND_BINARY:-$here/bin/rebound}
state=$(mktemp -d)
cleanup() {
  if [ -n "${KEEP_STATE:-}" ]; then echo "state kept in $state (KEEP_STATE)"; return; fi
  REBOUND_STATE_DIR=$state "$rebound" lab down --name bench >/dev/null 2>&1 || true
  KWOK_WORKDIR=$state/kwok "$bins/kwokctl" --name bench-kwok delete cluster >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
export REBOUND_STATE_DIR=$state REBOUND_LAB_BINS=$bins

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ms of one pod's network set-up, as the agent logs it ("pod network … took=…").
podnet_ms() {
  sed -n 's/.*msg="pod network".* took=\([0-9.]*\)\(ms\|µs\|s\).*/\1 \2/p' "$1" |
    awk '{v=$1; if ($2=="s") v*=1000; if ($2=="µs") v/=1000; print v}'
}

up=() down=() kup=() kdown=() podnet=()
for i in $(seq "$runs"); do
  t0=$(now)
  "$rebound" lab up --name bench >/dev/null
  "$rebound" demo deploy etcd -n bench --kubeconfig "$state/labs/bench/kwok/clusters/rebound-bench/kubeconfig.yaml" >/dev/null
  t1=$(now)
  mapfile -t -O "${#podnet[@]}" podnet < <(podnet_ms "$state/labs/bench/agent.log")
  "$rebound" lab down --name bench >/dev/null
  t2=$(now)
  KWOK_WORKDIR=$state/kwok "$bins/kwokctl" --name bench-kwok create cluster --runtime binary --quiet-pull \
    --etcd-binary "$bins/etcd" --kube-apiserver-binary "$bins/kube-apiserver" \
    --kube-controller-manager-binary "$bins/kube-controller-manager" --kube-scheduler-binary "$bins/kube-scheduler" \
    --disable kwok-controller --wait 0s >/dev/null 2>&1 </dev/null
  # kwokctl returns before the API server is ready; wait as `lab up` does.
  until KWOK_WORKDIR=$state/kwok KWOK_KUBECTL_BINARY=$bins/kubectl "$bins/kwokctl" --name bench-kwok kubectl get --raw /readyz >/dev/null 2>&1; do sleep 0.1; done
  t3=$(now)
  KWOK_WORKDIR=$state/kwok "$bins/kwokctl" --name bench-kwok delete cluster >/dev/null 2>&1
  t4=$(now)
  up+=("$(echo "$t1 - $t0" | bc)") down+=("$(echo "$t2 - $t1" | bc)")
  kup+=("$(echo "$t3 - $t2" | bc)") kdown+=("$(echo "$t4 - $t3" | bc)")
  printf 'run %d: lab up+etcd Ready %.2fs, lab down %.2fs | kwokctl create %.2fs, delete %.2fs\n' "$i" "${up[-1]}" "${down[-1]}" "${kup[-1]}" "${kdown[-1]}"
done
mu=$(printf '%s\n' "${up[@]}" | median) md=$(printf '%s\n' "${down[@]}" | median)
mku=$(printf '%s\n' "${kup[@]}" | median) mkd=$(printf '%s\n' "${kdown[@]}" | median)
printf '\nmedian over %d runs:\n' "$runs"
printf '  rebound lab up -> etcd app Ready   %6.2fs   (kwokctl create cluster, API ready: %6.2fs, ratio %.2f)\n' "$mu" "$mku" "$(echo "$mu / $mku" | bc -l)"
printf '  rebound lab down                   %6.2fs   (kwokctl delete cluster:            %6.2fs, ratio %.2f)\n' "$md" "$mkd" "$(echo "$md / $mkd" | bc -l)"
printf '  pod network set-up (per pod, %d pods) %6.1fms median\n' "${#podnet[@]}" "$(printf '%s\n' "${podnet[@]}" | median)"
