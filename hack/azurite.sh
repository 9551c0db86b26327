#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) for rebound's Azure Blob tests, on
# 127.0.0.1 only. Installed once per machine from npm into a cache folder.
#
#   azurite.sh install          install azurite into $AZURITE_CACHE (idempotent)
#   azurite.sh start            run azurite-blob in the foreground
#   azurite.sh run -- CMD...    start it in the background, run CMD with
#                               REBOUND_AZURITE_URL set, stop it, exit with CMD's status
#
# Environment: AZURITE_CACHE (default ~/.cache/rebound/azurite),
# AZURITE_PORT (default 10000), AZURITE_VERSION (default 3.37.0).
set -euo pipefail

CACHE=${AZURITE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rebound/azurite}
PORT=${AZURITE_PORT:-10000}
VERSION=${AZURITE_VERSION:-3.37.0}
BIN=$CACHE/node_modules/.bin/azurite-blob

install() {
	if [[ -x $BIN ]] && [[ $(cat "$CACHE/.version" 2>/dev/null) == "$VERSION" ]]; then
		return
	fi
	command -v npm >/dev/null || { echo "azurite.sh: npm is missing (apt-get install -y npm)" >&2; exit 1; }
	mkdir -p "$CACHE"
	# --prefix keeps it out of the repo and out of any global node_modules.
	npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "azurite@$VERSION" >&2
	echo "$VERSION" >"$CACHE/.version"
}

start_fg() {
	install
	local data
	data=$(mktemp -d "${TMPDIR:-/tmp}/azurite.XXXXXX")
	exec "$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --location "$data" \
		--skipApiVersionCheck --loose --silent
}

run() {
	install
	local data log pid status
	data=$(mktemp -d "${TMPDIR:-/tmp}/azurite.XXXXXX")
	log=$data.log
	"$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --location "$data" \
		--skipApiVersionCheck --loose --silent >"$log" 2>&1 &
	pid=$!
	# shellcheck disable=SC2064 # expand now: the values are fixed
	trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$data' '$log'" EXIT
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
		kill -0 "$pid" 2>/dev/null || { echo "azurite.sh: azurite exited:" >&2; cat "$log" >&2; exit 1; }
		sleep 0.1
	done
	status=0
	REBOUND_AZURITE_URL=http://127.0.0.1:$PORT/devstoreaccount1 "$@" || status=$?
	exit "$status"
}

case ${1:-} in
install) install ;;
start) start_fg ;;
run)
	shift
	[[ ${1:-} == -- ]] && shift
	[[ $# -gt 0 ]] || { echo "usage: azurite.sh run -- CMD..." >&2; exit 2; }
	run "$@"
	;;
*)
	echo "usage: azurite.sh install | start | run -- CMD..." >&2
	exit 2
	;;
esac
