#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine, then runs it:
# formatting, vet, staticcheck, and every Go test with no peer allowed to be
# missing. This is the test command of the README; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$(go env GOPATH)/bin:$PATH"
export SEALENV_REQUIRE_PEERS=1 # a missing peer (sops, podman, buildkit) fails instead of skipping

log() { printf '==> %s\n' "$*" >&2; }

# Peers, pinned, from the Go module proxy.
if ! command -v sops >/dev/null || [ "$(sops --version 2>/dev/null | awk 'NR==1{print $2}')" != "3.13.3" ]; then
	log "installing sops v3.13.3 (the peer our bundles must stay compatible with)"
	go install github.com/getsops/sops/v3/cmd/sops@v3.13.3
fi
if ! command -v staticcheck >/dev/null; then
	log "installing staticcheck"
	go install honnef.co/go/tools/cmd/staticcheck@latest
fi
for hook in scripts/setup-*.sh; do
	[ -e "$hook" ] || continue
	log "running $hook"
	bash "$hook"
done

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
log "go vet"
go vet ./...
log "staticcheck"
staticcheck ./...
log "cross-compile for macOS and Windows (scripts/cross.sh)"
./scripts/cross.sh
log "go test"
go test -count=1 -timeout 30m ./...
log "the README's demo (scripts/demo.sh)"
./scripts/demo.sh > /dev/null
