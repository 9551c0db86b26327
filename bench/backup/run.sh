#!/usr/bin/env bash
# Benchmark of rebound's backup repository against tar | zstd on the same
# data: a deterministic ~1.1 GiB mixed dataset (logs, incompressible
# blobs, 10,000 small files, a database-like and a disk-image-like file),
# then a copy of it with ~1% changed.
#
#   bench/backup/run.sh [WORKDIR]     RUNS=5 (default) SCALE=1 (dataset size)
#
# Times full backup, the backup after ~1% of the data changed in place
# (with the previous snapshot as parent, and without), and restore, each
# RUNS times, and prints medians, ratios and peak RSS (GNU time's max RSS:
# for a pipeline, its largest process). Before every timed command the
# files it reads are read once (into the page cache) and `sync` runs: on a
# machine whose page cache holds less than a run writes, the tool timed
# second would otherwise read what the first one just brought in. The
# dataset is kept in WORKDIR; delete it to regenerate.
# KEEP=1 keeps the per-run repositories and archives.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
W=${1:-${TMPDIR:-/tmp}/rebound-backup-bench}
RUNS=${RUNS:-5}
SCALE=${SCALE:-1}
mkdir -p "$W"
W=$(cd "$W" && pwd)

if ! command -v zstd >/dev/null; then
	echo "installing zstd" >&2
	apt-get update -qq && apt-get install -y -qq zstd >/dev/null
fi
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

(cd "$root" && go build -o "$W/backup-bench" ./bench/backup)
B="$W/backup-bench"

if [[ ! -f $W/A.done ]]; then
	rm -rf "$W/A" "$W/B"
	echo "generating dataset in $W/A (scale $SCALE)" >&2
	"$B" gen -dir "$W/A" -scale "$SCALE"
	touch "$W/A.done"
fi
raw=$W/raw.txt
: >"$raw"
# warm PATH...: read every file under PATH into the page cache.
warm() { find "$@" -type f -exec cat {} + >/dev/null; }
# measure NAME CMD...: one timed run, appended to raw.txt as "NAME seconds maxrss_kib".
measure() {
	local name=$1
	shift
	sync
	/usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" >"$W/last.out"
	echo "$name $(cat "$W/time.txt")" >>"$raw"
}

# Each run works in fresh directories and nothing is deleted until the
# end: on a filesystem mounted with discard, deleting a GiB slows the
# writes that follow for a while, which would bias whichever tool ran
# next. rebound and tar alternate within each step.
rm -rf "$W"/run*
for run in $(seq "$RUNS"); do
	echo "run $run/$RUNS" >&2
	D=$W/run$run
	mkdir -p "$D"
	cp -a "$W/A" "$D/data"
	"$B" init -repo "$D/repo" -keyfile "$D/key"

	warm "$D/data"
	measure rebound_full "$B" backup -repo "$D/repo" -keyfile "$D/key" -src "$D/data"
	cp "$W/last.out" "$W/full.json"
	warm "$D/data"
	measure tar_full sh -c "tar -cf - -C '$D/data' . | zstd -q -T0 -3 -f -o '$D/full.tar.zst'"

	"$B" mutate -dir "$D/data" # ~1% changed, in place
	warm "$D/data"
	measure rebound_incr "$B" backup -repo "$D/repo" -keyfile "$D/key" -src "$D/data" -parent latest
	cp "$W/last.out" "$W/incr.json"
	warm "$D/data"
	measure tar_incr sh -c "tar -cf - -C '$D/data' . | zstd -q -T0 -3 -f -o '$D/incr.tar.zst'"
	warm "$D/data"
	measure rebound_incr_noparent "$B" backup -repo "$D/repo" -keyfile "$D/key" -src "$D/data"
	cp "$W/last.out" "$W/incr-noparent.json"

	warm "$D/repo"
	measure rebound_restore "$B" restore -repo "$D/repo" -keyfile "$D/key" -id latest -dst "$D/out"
	mkdir -p "$D/out-tar"
	warm "$D/incr.tar.zst"
	measure tar_restore sh -c "zstd -q -d -c '$D/incr.tar.zst' | tar -xf - -C '$D/out-tar'"

	if [[ $run == 1 ]]; then
		diff -r "$D/data" "$D/out" >/dev/null || { echo "rebound restore differs from the source" >&2; exit 1; }
		"$B" verify -repo "$D/repo" -keyfile "$D/key" >"$W/verify.txt"
	fi
done

# mid: the median of the numbers on stdin.
mid() { sort -n | awk '{a[NR]=$1} END {printf "%.4g\n", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
median() { awk -v n="$1" '$1==n {print $2}' "$raw" | mid; }
fastest() { awk -v n="$1" '$1==n {print $2}' "$raw" | sort -n | head -1; }
peak() { awk -v n="$1" '$1==n {print $3}' "$raw" | sort -n | tail -1 | awk '{printf "%.0f MiB", $1/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# pairwise A B: the median over runs of A's time over B's in the same run,
# steadier than a ratio of medians when the machine's speed drifts.
pairwise() {
	paste <(awk -v n="$1" '$1==n {print $2}' "$raw") <(awk -v n="$2" '$1==n {print $2}' "$raw") |
		awk '{print $1/$2}' | mid | awk '{printf "%.2f", $1}'
}

data=$(du -sb "$W/A" | cut -f1)
files=$(find "$W/A" -type f | wc -l)
repo=$(du -sb "$W/run1/repo" | cut -f1)
tarA=$(stat -c %s "$W/run1/full.tar.zst")
{
	echo "dataset: $(awk -v b="$data" 'BEGIN {printf "%.2f GiB", b/2^30}') in $files files; $RUNS runs; $(nproc) cores; $(zstd --version | head -1)"
	echo
	echo "| operation | rebound median s (fastest) | tar+zstd -3 median s (fastest) | tar+zstd / rebound (medians) | rebound peak RSS | tar+zstd peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|"
	for op in full incr incr_noparent restore; do
		r=$(median rebound_$op)
		t=$(median tar_$op)
		tf=$(fastest tar_$op)
		case $op in
		full) label="full backup" ;;
		incr) label="backup after 1% changed, parent given" ;;
		incr_noparent)
			label="backup after 1% changed, no parent (re-reads all)"
			t=$(median tar_incr) tf=$(fastest tar_incr)
			;;
		restore) label="restore" ;;
		esac
		echo "| $label | $r ($(fastest rebound_$op)) | $t ($tf) | $(ratio "$t" "$r") | $(peak rebound_$op) | $(peak tar_${op%_noparent}) |"
	done
	echo
	echo "rebound full / incremental with parent (medians): $(ratio "$(median rebound_full)" "$(median rebound_incr)")x"
	echo "run by run, medians of: tar+zstd / rebound full $(pairwise tar_full rebound_full); restore $(pairwise tar_restore rebound_restore); rebound full / incremental $(pairwise rebound_full rebound_incr)"
	echo "stored: rebound repository $(awk -v b="$repo" 'BEGIN {printf "%.1f MiB", b/2^20}') after 3 snapshots; one tar.zst $(awk -v b="$tarA" 'BEGIN {printf "%.1f MiB", b/2^20}')"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "full backup:        $(cat "$W/full.json")"
	echo "incremental:        $(cat "$W/incr.json")"
	echo "incremental (none): $(cat "$W/incr-noparent.json")"
	echo "verify: $(cat "$W/verify.txt")"
} | tee "$W/results.md"
[[ -n ${KEEP:-} ]] || rm -rf "$W"/run*
