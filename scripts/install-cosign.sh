#!/usr/bin/env bash
# Installs cosign v2.6.5, the peer whose verify-attestation sealenv's signed
# verdicts must pass (e2e/attest_test.go, docs/attest.md), from the Go module
# proxy into $(go env GOPATH)/bin, and only when that version is not there
# yet. Building cosign takes minutes (its dependency tree is large), so the
# README's test command does not run this: .ci/run does, before it runs the
# attestation tests with SEALENV_E2E_COSIGN=1. Safe to run again, and from
# several processes at once. Prints the path of cosign.
#
#   SEALENV_COSIGN   a cosign to use instead (checked, not installed)
set -euo pipefail

COSIGN_VERSION=v2.6.5
log() { printf 'install-cosign: %s\n' "$*" >&2; }

has_version() { "$1" version 2>/dev/null | grep -q "GitVersion:[[:space:]]*$COSIGN_VERSION\$"; }

if [ -n "${SEALENV_COSIGN:-}" ]; then
	has_version "$SEALENV_COSIGN" || { log "SEALENV_COSIGN=$SEALENV_COSIGN is not cosign $COSIGN_VERSION"; exit 1; }
	echo "$SEALENV_COSIGN"
	exit 0
fi
bin="$(go env GOPATH | cut -d: -f1)/bin"
mkdir -p "$bin"
exec 9>"$bin/.cosign-install.lock"
flock 9
if [ -x "$bin/cosign" ] && has_version "$bin/cosign"; then
	echo "$bin/cosign"
	exit 0
fi
log "building cosign $COSIGN_VERSION from the Go module proxy (a few minutes, once)"
# GOFLAGS of the caller (such as -mod=vendor) do not apply to another module.
GOFLAGS= nice -n 10 go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
has_version "$bin/cosign" || { log "$bin/cosign does not report $COSIGN_VERSION"; exit 1; }
echo "$bin/cosign"
