# Builds, tests and cross-compiles wakewordd. Every target installs what it needs first
# (scripts/setup.sh, idempotent: nothing happens when all is present).
#
#   make build        bin/wakewordd for this machine (cgo PortAudio)
#   make build-arm64  bin/wakewordd-linux-arm64 for 64-bit ARM boards (Raspberry Pi 3/4/5):
#                     cgo PortAudio through the Debian cross toolchain and portaudio19-dev:arm64
#   make test         the whole suite, as CI runs it (scripts/test.sh)
#   make demo         the daemon on the bundled example recording (scripts/demo.sh)
#   make deb          bin/wakewordd_VERSION_amd64.deb and _arm64.deb (packaging/build-deb.sh);
#                     make deb-amd64 or make deb-arm64 for one
#
# `wakewordd version` reports VERSION, by default derived from git as the .deb's version is
# (scripts/version.sh: tag v1.2.3 -> 1.2.3, later commits -> 1.2.3+gitN.gHASH, no tag ->
# 0.0~gitYYYYMMDD.HASH, +dirty); make build VERSION=1.2.3 (or WAKEWORDD_VERSION=1.2.3)
# sets it. When GOFLAGS already carries -ldflags (packaging/build-deb.sh puts the package
# version there), that wins.

GO ?= go
BIN ?= bin
VERSION = $(shell scripts/version.sh 2>/dev/null || echo dev)
GO_LDFLAGS = $(if $(findstring -ldflags,$(GOFLAGS)),,'-ldflags=-X=main.version=$(VERSION)')

ARM64_ENV := CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc PKG_CONFIG=aarch64-linux-gnu-pkg-config

.PHONY: build build-arm64 test demo clean
.PHONY: deb deb-amd64 deb-arm64

build:
	scripts/setup.sh build
	. scripts/env.sh && $(GO) build $(GO_LDFLAGS) -o $(BIN)/wakewordd ./cmd/wakewordd

build-arm64:
	scripts/setup.sh cross
	. scripts/env.sh && $(ARM64_ENV) $(GO) build $(GO_LDFLAGS) -o $(BIN)/wakewordd-linux-arm64 ./cmd/wakewordd

test:
	scripts/test.sh

demo:
	scripts/demo.sh

deb: deb-amd64 deb-arm64

deb-amd64:
	packaging/build-deb.sh amd64 $(BIN)

deb-arm64:
	packaging/build-deb.sh arm64 $(BIN)

clean:
	rm -f $(BIN)/wakewordd $(BIN)/wakewordd-linux-arm64
	rm -f $(BIN)/wakewordd_*.deb
