# rebound's build. `make gameday` runs the main job on a fresh machine;
# `make test` runs every test. Both build what they need first.
SHELL    := /bin/bash
GO       ?= go
BIN      := $(CURDIR)/bin/rebound
# The control plane binaries are built once per machine into this cache.
LAB_BINS ?= $(HOME)/.cache/rebound/bin
export REBOUND_LAB_BINS := $(LAB_BINS)
# The real Chaos Mesh CRDs, generated once per machine from the pinned api
# module with controller-gen; the e2e tests install them into the lab.
CHAOS_CRDS ?= $(HOME)/.cache/rebound/crds/chaos-mesh
export REBOUND_CHAOS_CRDS := $(CHAOS_CRDS)

.PHONY: all build image chart-test deps lab-bins chaos-crds bench-backup test unit e2e gameday lab-up lab-down bench fmt vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rebound

# rebound's container image, built without Docker by hack/ociimage (a Go
# module of its own, on go-containerregistry) from a static binary: an OCI
# layout in bin/rebound-oci (crane push bin/rebound-oci REF) and a tarball
# bin/rebound-image.tar (docker load -i, or crane push FILE REF).
IMAGE_REPO    ?= ghcr.io/reboundhq/rebound
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_ARCH    ?= $(shell $(GO) env GOARCH)
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags="-s -w" -o $(CURDIR)/bin/rebound-linux-$(IMAGE_ARCH) ./cmd/rebound
	cd hack/ociimage && $(GO) run . --binary $(CURDIR)/bin/rebound-linux-$(IMAGE_ARCH) --arch $(IMAGE_ARCH) \
		--repository $(IMAGE_REPO) --version $(IMAGE_VERSION) --revision $$(git rev-parse HEAD 2>/dev/null) \
		--layout $(CURDIR)/bin/rebound-oci --tarball $(CURDIR)/bin/rebound-image.tar

# The Helm chart (charts/rebound) linted and rendered with helm's Go library,
# and the image builder's tests: each a Go module of its own (see their
# doc comments), so `go test ./...` at the root does not reach them.
chart-test:
	cd charts/test && $(GO) test -count=1 ./...
	cd hack/ociimage && $(GO) test -count=1 ./...

# Debian packages the lab needs (nsenter for exec probes and the lab's
# network namespace, setpriv for containers' users; nft, which kube-proxy's
# nftables mode runs) and the tests need (chromium, for the browser check of
# report.html), and PostgreSQL 15 with Patroni for the demo postgres app
# (scenarios/apps/postgres, which the lab runs from these packages); a
# no-op when present.
deps:
	@command -v nsenter >/dev/null && command -v setpriv >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux; }
	@command -v nft >/dev/null || { apt-get update -qq && apt-get install -y -qq nftables; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -x /usr/lib/postgresql/15/bin/postgres && test -x /usr/bin/patroni && test -d /usr/lib/python3/dist-packages/kubernetes || \
		{ apt-get update -qq && apt-get install -y -qq postgresql patroni python3-kubernetes; }

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kube-proxy, kwokctl and CoreDNS from the pinned Go modules in lab/bins;
# skips what is built.
lab-bins:
	@lab/bins/build.sh $(LAB_BINS)

chaos-crds:
	@faults/chaosmesh/crdgen/gen.sh $(CHAOS_CRDS)

# Every test: unit tests, the backup repository's Azure Blob round trip on
# Azurite (installed from npm into a cache, listening on 127.0.0.1 only),
# and the end-to-end tests on a real lab.
test: deps lab-bins chaos-crds build chart-test
	hack/azurite.sh run -- env REBOUND_BINARY=$(BIN) $(GO) test -count=1 -timeout 40m ./...

unit: chart-test
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

e2e: deps lab-bins chaos-crds build
	REBOUND_BINARY=$(BIN) $(GO) test -count=1 -timeout 40m -v ./test/e2e/

# The main job: the default game day on the local lab, reports in
# ./rebound-report. Only a breached target (exit 1: every scenario ran, some
# missed a target) is a finished game day, a result rather than a failure of
# the job. Every other non-zero code fails it (docs/exit-codes.md): invalid
# input (2), an abort (3), an incomplete cleanup (4), and a game day that
# could not run (5: cluster unreachable, lab not up, a scenario in ERROR).
gameday: deps lab-bins build
	@$(BIN) run; code=$$?; \
	if [ $$code -eq 1 ]; then echo "gameday: finished; some targets were breached (see above and ./rebound-report)"; exit 0; fi; \
	if [ $$code -eq 5 ]; then echo "gameday: NOT finished; rebound could not run (see above)" >&2; fi; \
	exit $$code

lab-up: deps lab-bins build
	$(BIN) lab up

# Both labs `make gameday` brings up: the target and the DR region.
lab-down: build
	$(BIN) lab down
	$(BIN) lab down --name rebound-dr

# Backup repository vs tar | zstd -3 on a ~1.1 GiB dataset (RUNS=5 KEEP=1).
bench-backup:
	@command -v zstd >/dev/null || { apt-get update -qq && apt-get install -y -qq zstd; }
	bench/backup/run.sh $(or $(BENCH_DIR),/tmp/rebound-backup-bench)

bench: deps lab-bins build
	@command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc; }
	bench/lab-up.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
