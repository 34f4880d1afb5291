# Runnel build, test and CI entry points. `make test` is what CI runs (.ci/run).
#
#   make build        build bin/runnel
#   make test         verify-fmt, vet, deps, go test -race ./... with the tools
#                     present (tests needing them fail instead of skipping),
#                     then the interop suite
#   make unit         go test -race ./... only (tests needing tools skip)
#   make interop      the interop suite against the real binary (runs `make deps`)
#   make deps         install kcat, kafkajs, the Kafka and Hadoop jars, PostgreSQL (idempotent)
#   make lint         verify-fmt + vet
#   make fmt          alias for fix-fmt
#   make bench        benchmarks, once each, no unit tests
#   make verify-fmt / fix-fmt, verify-vet, verify-mod / fix-mod

SHELL := /bin/bash
GO ?= go
# Every Go file of the module (works without git, e.g. from a tarball).
GOFILES = $(shell find . -name '*.go' -not -path './.deps/*' -not -path '*/node_modules/*' -not -path './.git/*')
# Unit tests; the interop package is run separately (with RUNNEL_INTEROP=1) by `interop`.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/test/interop')
TEST_FLAGS ?=
INTEROP_TIMEOUT ?= 20m
BENCHTIME ?= 1x

.PHONY: all build test unit unit-tools interop deps deps-kcat deps-node deps-java deps-hadoop deps-postgres lint fmt \
	verify-fmt fix-fmt verify-vet verify-mod fix-mod bench clean

all: build

build:
	$(GO) build -o bin/runnel ./cmd/runnel

# Environment that makes unit tests use (and require) the tools `make deps`
# installs.
TOOLS_ENV = RUNNEL_HADOOP_JARS=$(CURDIR)/.deps/hadoop-jars RUNNEL_POSTGRES=1

test: verify-fmt verify-vet deps unit-tools interop

unit:
	$(GO) test -race $(TEST_FLAGS) $(UNIT_PKGS)

unit-tools: deps
	$(TOOLS_ENV) $(GO) test -race $(TEST_FLAGS) $(UNIT_PKGS)

# The interop suite fails (instead of skipping) when a tool is missing.
interop: deps
	RUNNEL_INTEROP=1 $(GO) test -race -count=1 -timeout $(INTEROP_TIMEOUT) $(TEST_FLAGS) ./test/interop/...

deps: deps-kcat deps-node deps-java deps-hadoop deps-postgres

deps-kcat:
	scripts/install-kcat.sh

deps-node:
	scripts/install-node-deps.sh

deps-java:
	scripts/install-kafka-jars.sh

deps-hadoop:
	scripts/install-hadoop-jars.sh

deps-postgres:
	scripts/install-postgres.sh

lint: verify-fmt verify-vet

fmt: fix-fmt

verify-fmt:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then \
		echo "gofmt needed on:"; echo "$$out"; echo "run: make fix-fmt"; exit 1; fi

fix-fmt:
	gofmt -w $(GOFILES)

verify-vet:
	$(GO) vet ./...

# verify-mod runs `go mod tidy` and restores go.mod/go.sum afterwards; not part
# of `make test` (it rewrites go.mod while it runs).
verify-mod:
	@cp go.mod /tmp/runnel-go.mod.bak; cp go.sum /tmp/runnel-go.sum.bak; \
	$(GO) mod tidy; rc=0; \
	git diff --quiet -- go.mod go.sum || { echo "go.mod/go.sum not tidy; run: make fix-mod"; rc=1; }; \
	cp /tmp/runnel-go.mod.bak go.mod; cp /tmp/runnel-go.sum.bak go.sum; exit $$rc

fix-mod:
	$(GO) mod tidy

bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) $(UNIT_PKGS)

clean:
	rm -rf bin .deps test/interop/node/node_modules
