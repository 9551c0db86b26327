#!/usr/bin/env bash
# Benchmark of rebound's PostgreSQL base backup and its restore against
# pg_basebackup on the same server, same machine, same run.
#
#   bench/postgres/backup.sh [WORKDIR]     RUNS=3 (default) SCALE=70 (pgbench scale; 70 is ~1.05 GiB)
#
# A PostgreSQL 15 (Debian's binaries) on a loopback port holds a pgbench
# database (pgbench -i -s SCALE). Each run times, alternating the tools:
#   rebound        postgres.BaseBackup into a fresh repository (zstd, encrypted,
#                  one object per tar, WAL streamed from a temporary slot)
#   pgbb -Ft -z    pg_basebackup -Ft -z -X stream (gzip, what its docs suggest)
#   pgbb | zstd    pg_basebackup -D - -Ft -X fetch | zstd -T0 (level 3)
# and their restores into a new data directory, each followed by a sync
# (rebound's mover fsyncs every file itself; `sync` once is the tar
# baselines' equivalent):
#   rebound        the data mover's restore-archive (staged, synced, swapped in)
#   pgbb -Ft -z    tar -xzf base.tar.gz; tar -xzf pg_wal.tar.gz -C pg_wal; sync
#   pgbb | zstd    zstd -dc base.tar.zst | tar -x; sync
# The data directory is read once before every backup (page cache) and
# `sync` runs, as in bench/backup/run.sh. Prints medians over RUNS and
# the sizes. The first rebound restore is started with PostgreSQL and its
# row count checked against the source. The runs' copies (several GiB each)
# are deleted at the end unless KEEP=1; the source database is kept in
# WORKDIR for the next pass (delete it to regenerate).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
W=${1:-${TMPDIR:-/tmp}/rebound-pg-backup-bench}
RUNS=${RUNS:-3}
SCALE=${SCALE:-70}
PORT=${PORT:-55439}
BIN=/usr/lib/postgresql/15/bin
[[ -x $BIN/postgres ]] || { echo "PostgreSQL 15 binaries missing in $BIN: run make deps" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd missing: apt-get install zstd" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "GNU time missing: apt-get install time" >&2; exit 1; }
mkdir -p "$W"
W=$(cd "$W" && pwd)
chmod 755 "$W"

asuser=()
if [[ $(id -u) == 0 ]]; then
	asuser=(setpriv --reuid=postgres --regid=postgres --init-groups)
	chown postgres:postgres "$W"
fi
pg() { "${asuser[@]}" "$@"; }

(cd "$root" && go build -o "$W/pg-backup-bench" ./bench/postgres)
B="$W/pg-backup-bench"

SRC=$W/src
stop_src() { pg "$BIN/pg_ctl" -D "$SRC" -m fast stop >/dev/null 2>&1 || true; }
trap stop_src EXIT
if [[ ! -f $W/src.done ]]; then
	rm -rf "$SRC"
	pg "$BIN/initdb" -D "$SRC" -U postgres -A trust -E UTF8 >/dev/null
fi
pg "$BIN/pg_ctl" -D "$SRC" -l "$W/src.log" -w -o "-p $PORT -k $W -c listen_addresses=127.0.0.1" start >/dev/null
DSN="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
if [[ ! -f $W/src.done ]]; then
	echo "pgbench -i -s $SCALE" >&2
	pg pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PORT" -U postgres postgres >/dev/null 2>&1
	pg "$BIN/psql" -qAt -h 127.0.0.1 -p "$PORT" -U postgres -c CHECKPOINT postgres
	touch "$W/src.done"
fi
dbsize=$(pg "$BIN/psql" -qAt -h 127.0.0.1 -p "$PORT" -U postgres -c "SELECT pg_database_size('postgres')" postgres)
rows=$(pg "$BIN/psql" -qAt -h 127.0.0.1 -p "$PORT" -U postgres -c "SELECT count(*) FROM pgbench_accounts" postgres)
echo "database: $((dbsize / 1048576)) MiB, pgbench_accounts: $rows rows" >&2

raw=$W/raw.txt
: >"$raw"
warm() { find "$SRC" -type f -exec cat {} + >/dev/null 2>&1 || true; }
measure() {
	local name=$1
	shift
	sync
	/usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" >"$W/last.out"
	echo "$name $(cat "$W/time.txt")" >>"$raw"
}
rm -rf "$W"/run*
for r in $(seq "$RUNS"); do
	R=$W/run$r
	mkdir -p "$R"
	chown postgres:postgres "$R" 2>/dev/null || true
	echo "run $r/$RUNS" >&2
	warm
	measure "backup-rebound" "$B" backup -dsn "$DSN" -repo "$R/repo" -keyfile "$R/key"
	cat "$W/last.out" >"$R/rebound.json"
	warm
	measure "backup-pgbb-z" env "${asuser[@]}" pg_basebackup -h 127.0.0.1 -p "$PORT" -U postgres -D "$R/pgbbz" -Ft -z -X stream -c fast
	warm
	measure "backup-pgbb-zstd" sh -c "${asuser[*]} pg_basebackup -h 127.0.0.1 -p $PORT -U postgres -D - -Ft -X fetch -c fast | zstd -q -T0 -3 >'$R/base.tar.zst'"

	mkdir -p "$R/vol"
	measure "restore-rebound" "$B" restore -repo "$R/repo" -keyfile "$R/key" -dst "$R/vol/data"
	mkdir -p "$R/pgbbz.d/pg_wal"
	measure "restore-pgbb-z" sh -c "tar -xzf '$R/pgbbz/base.tar.gz' -C '$R/pgbbz.d' && tar -xzf '$R/pgbbz/pg_wal.tar.gz' -C '$R/pgbbz.d/pg_wal' && sync"
	mkdir -p "$R/zstd.d"
	measure "restore-pgbb-zstd" sh -c "zstd -q -dc '$R/base.tar.zst' | tar -x -C '$R/zstd.d' && sync"
done

# The first rebound restore must be a working copy of the source.
chown -R postgres:postgres "$W/run1/vol" 2>/dev/null || true
pg "$BIN/pg_ctl" -D "$W/run1/vol/data" -l "$W/restored.log" -w -o "-p $((PORT + 1)) -k $W -c listen_addresses=127.0.0.1" start >/dev/null
got=$(pg "$BIN/psql" -qAt -h 127.0.0.1 -p $((PORT + 1)) -U postgres -c "SELECT count(*) FROM pgbench_accounts" postgres)
pg "$BIN/pg_ctl" -D "$W/run1/vol/data" -m fast stop >/dev/null
[[ $got == "$rows" ]] || { echo "restored copy has $got rows in pgbench_accounts, source $rows" >&2; exit 1; }
echo "restored copy checked: $got rows" >&2

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf "%-20s %10s %14s\n" operation "median s" "peak RSS MiB"
for op in backup-rebound backup-pgbb-z backup-pgbb-zstd restore-rebound restore-pgbb-z restore-pgbb-zstd; do
	s=$(awk -v o="$op" '$1==o {print $2}' "$raw" | median)
	m=$(awk -v o="$op" '$1==o {print $3}' "$raw" | median)
	printf "%-20s %10s %14d\n" "$op" "$s" "$((${m%.*} / 1024))"
done
echo "all runs: $raw"
stored=$(du -sb "$W/run1/repo" | cut -f1)
gz=$(du -sb "$W/run1/pgbbz" | cut -f1)
zs=$(du -sb "$W/run1/base.tar.zst" | cut -f1)
echo "stored: rebound repository $((stored / 1048576)) MiB, pg_basebackup -z $((gz / 1048576)) MiB, pg_basebackup | zstd $((zs / 1048576)) MiB"
[[ ${KEEP:-0} == 1 ]] || rm -rf "$W"/run* "$W"/cpu
