#!/usr/bin/env bash
# Builds the lab's control plane binaries, kube-proxy and CoreDNS from the
# pinned Go modules beside this script into a cache folder, skipping whatever
# is already built.
# Usage: build.sh CACHE_DIR   (make lab-bins passes $(LAB_BINS))
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh CACHE_DIR}
mkdir -p "$out"

# version <module dir> <module path>: the pinned version of a module.
version() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# build <module dir> <version> <package>...: builds each package's command
# into $out unless a binary built from the same version is already there.
build() {
  local dir=$1 ver=$2 ldflags=$3; shift 3
  local missing=()
  for pkg in "$@"; do
    local name=${pkg##*/}
    [ "$name" = v3 ] && name=etcd   # go names the etcd server command "server"
    if [ -x "$out/$name" ] && [ "$(cat "$out/$name.version" 2>/dev/null)" = "$ver" ]; then
      echo "lab-bins: $name $ver already built in $out"
    else
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "lab-bins: building ${missing[*]##*/} $ver (several minutes on 2 cores the first time)"
  local tmp; tmp=$(mktemp -d "$out/.build.XXXXXX")
  (cd "$here/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "${missing[@]}")
  for pkg in "${missing[@]}"; do
    local name=${pkg##*/}
    [ "$name" = v3 ] && { mv "$tmp/server" "$tmp/etcd"; name=etcd; }
    mv -f "$tmp/$name" "$out/$name"       # rename: a half-built binary is never in place
    echo "$ver" > "$out/$name.version"
  done
  rmdir "$tmp"
}

kver=$(version kubernetes k8s.io/kubernetes)
kminor=$(echo "$kver" | cut -d. -f2)
kflags="-X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor -X k8s.io/component-base/version.gitTreeState=clean"
build etcd "$(version etcd go.etcd.io/etcd/server/v3)" "" go.etcd.io/etcd/server/v3
wver=$(version kwok sigs.k8s.io/kwok)
build kwok "$wver" "" sigs.k8s.io/kwok/cmd/kwokctl
build kubernetes "$kver" "$kflags" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-proxy
build coredns "$(version coredns github.com/coredns/coredns)" "" github.com/reboundhq/rebound/lab/bins/coredns
echo "lab-bins: all binaries are in $out"
