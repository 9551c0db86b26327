#!/usr/bin/env bash
# Generates the real Chaos Mesh CRDs from the Chaos Mesh api module that
# rebound is built against, with the controller-gen pinned beside this script,
# the way Chaos Mesh's own `make config` does. The lab has no Chaos Mesh, so
# these CRDs are what lets its API server validate rebound's fault objects.
# Skips whatever is already there for the same versions.
# Usage: gen.sh [OUT_DIR]   (make chaos-crds passes $(CHAOS_CRDS))
#   OUT_DIR  default $XDG_CACHE_HOME/rebound/crds/chaos-mesh (~/.cache/...)
#   REBOUND_TOOLS_BIN  where controller-gen is built, default .../rebound/tools
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rebound
out=${1:-$cache/crds/chaos-mesh}
tools=${REBOUND_TOOLS_BIN:-$cache/tools}
api=github.com/chaos-mesh/chaos-mesh/api
# Chaos Mesh's flags (their Makefile's `config` target), less the RBAC output.
flags="crd:ignoreUnexportedFields=true,crdVersions=v1"
export GOWORK=off

# version <module dir> <module path>: the version a module pins.
version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

apiver=$(version "$here" "$api")
mainver=$(version "$root" "$api")
if [ "$apiver" != "$mainver" ]; then
  echo "chaos-crds: $here pins $api $apiver but rebound's go.mod has $mainver;" >&2
  echo "  fix: (cd $here && go get $api/v1alpha1@$mainver)" >&2
  exit 1
fi
cgver=$(version "$here" sigs.k8s.io/controller-tools)
stamp="$api $apiver controller-gen $cgver $flags"

if [ "$(cat "$out/.version" 2>/dev/null)" = "$stamp" ]; then
  echo "chaos-crds: CRDs of $api $apiver already in $out"
  exit 0
fi

mkdir -p "$tools"
cg=$tools/controller-gen
if [ -x "$cg" ] && [ "$(cat "$cg.version" 2>/dev/null)" = "$cgver" ]; then
  echo "chaos-crds: controller-gen $cgver already built in $tools"
else
  echo "chaos-crds: building controller-gen $cgver (a minute or two on 2 cores)"
  tmpbin=$(mktemp -d "$tools/.build.XXXXXX")
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmpbin/" sigs.k8s.io/controller-tools/cmd/controller-gen)
  mv -f "$tmpbin/controller-gen" "$cg" # rename: a half-built binary is never in place
  echo "$cgver" > "$cg.version"
  rmdir "$tmpbin"
fi

(cd "$here" && go mod download "$api")
src=$(cd "$here" && go list -m -f '{{.Dir}}' "$api")
[ -n "$src" ] && [ -d "$src/v1alpha1" ] || { echo "chaos-crds: no source of $api $apiver found (got '$src')" >&2; exit 1; }

# controller-gen only reads the tree, so it runs in the read-only module
# cache as it is: inside, the api module's own go.mod (with its replaces)
# decides the k8s types the schemas are made of, as in Chaos Mesh's build.
# -mod=readonly keeps a GOFLAGS=-mod=mod of the caller from trying to write
# there.
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.chaos-crds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "chaos-crds: generating the CRDs of $api $apiver with controller-gen $cgver"
(cd "$src" && GOFLAGS=-mod=readonly "$cg" "$flags" paths=./... "output:crd:dir=$tmp")
n=$(find "$tmp" -maxdepth 1 -name '*.yaml' | wc -l)
[ "$n" -gt 0 ] || { echo "chaos-crds: controller-gen wrote no CRD" >&2; exit 1; }
chmod 755 "$tmp"
echo "$stamp" > "$tmp/.version"
# Swap the whole folder so a reader never sees a half-written set.
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "chaos-crds: $n CRDs in $out"
