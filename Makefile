# rebound's build. `make gameday` runs the main job on a fresh machine;
# `make test` runs every test. Both build what they need first.
SHELL    := /bin/bash
GO       ?= go
BIN      := $(CURDIR)/bin/rebound
# The control plane binaries are built once per machine into this cache.
LAB_BINS ?= $(HOME)/.cache/rebound/bin
export REBOUND_LAB_BINS := $(LAB_BINS)

.PHONY: all build deps lab-bins test unit e2e gameday lab-up lab-down bench fmt vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rebound

# Debian packages the lab needs (nsenter for exec probes); a no-op when present.
deps:
	@command -v nsenter >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux; }

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and
# kwokctl from the pinned Go modules in lab/bins; skips what is built.
lab-bins:
	@lab/bins/build.sh $(LAB_BINS)

# Every test: unit tests and the end-to-end tests on a real lab.
test: deps lab-bins build
	REBOUND_BINARY=$(BIN) $(GO) test -count=1 -timeout 40m ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

e2e: deps lab-bins build
	REBOUND_BINARY=$(BIN) $(GO) test -count=1 -timeout 40m -v ./test/e2e/

# The main job: a game day on the local lab.
gameday: deps lab-bins build
	$(BIN) lab up
	$(BIN) demo deploy etcd -n rebound-demo
	$(BIN) lab status

lab-up: deps lab-bins build
	$(BIN) lab up

lab-down: build
	$(BIN) lab down

bench: deps lab-bins build
	bench/lab-up.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
