#!/usr/bin/env bash
# Cross-compiles the sealenv CLI for every system a developer uses (Linux,
# macOS and Windows, on amd64 and arm64) and vets, for each system, the CLI
# and every package of this module it is built from, tests included, so a
# file that only one system compiles cannot break another. The injector
# (cmd/sealenv-inject) is a Linux container entrypoint and is not built here;
# package inject, which the CLI links, is vetted with its tests on Linux only.
# The tests of the pure parts of each system's code (internal/fsutil's
# private directories and locks) run on Linux with the rest of go test.
# .ci/run calls this after the README's test command: on a cold build cache
# it compiles every dependency four more times (about 15 minutes on two
# cores), too slow for the command a newcomer runs.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'cross: %s\n' "$*" >&2; }

export CGO_ENABLED=0
for goos in linux darwin windows; do
	for goarch in amd64 arm64; do
		log "build ./cmd/sealenv for $goos/$goarch"
		GOOS=$goos GOARCH=$goarch go build -o /dev/null ./cmd/sealenv
	done
	pkgs=$(GOOS=$goos go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./cmd/sealenv | grep '^github.com/sealenv/sealenv' | sort)
	if [ "$goos" != linux ]; then
		# The injector's package is built into the CLI above, on every
		# system, but it runs (sealenv inject) and is tested on Linux
		# only: its tests exec, signal and use memfd, so they are not
		# vetted for other systems.
		pkgs=$(echo "$pkgs" | grep -vx 'github.com/sealenv/sealenv/inject')
	fi
	log "vet for $goos: $(echo "$pkgs" | wc -l) packages"
	# shellcheck disable=SC2086
	GOOS=$goos go vet $pkgs
done
log "ok: linux, darwin, windows x amd64, arm64"
