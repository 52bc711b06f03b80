#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine, then runs it:
# formatting, vet, staticcheck, every Go test with no peer allowed to be
# missing, and the README's demo. This is the test command of the README;
# .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$(go env GOPATH)/bin:$PATH"
export SEALENV_REQUIRE_PEERS=1 # a missing peer (sops, podman, buildkit) fails instead of skipping

log() { printf '==> %s\n' "$*" >&2; }

# sops, the peer our bundles must stay compatible with: v3.13.3, the
# version go.mod requires, built from this module's graph so that it shares
# the build cache with our own packages (sops/v3 is a dependency of
# seal/author: only sops's command packages are compiled for it).
sops_version=$(go list -m -f '{{.Version}}' github.com/getsops/sops/v3)
if ! command -v sops >/dev/null || [ "v$(sops --version 2>/dev/null | awk 'NR==1{print $2}')" != "$sops_version" ]; then
	log "building sops $sops_version"
	mkdir -p "$(go env GOPATH)/bin"
	go build -o "$(go env GOPATH)/bin/sops" github.com/getsops/sops/v3/cmd/sops
fi
if ! command -v staticcheck >/dev/null; then
	log "installing staticcheck"
	go install honnef.co/go/tools/cmd/staticcheck@latest
fi

# The system packages and BuildKit (scripts/setup-*.sh: apt-get, and a
# go build of buildkitd with this module's dependency versions) install in
# the background while the code is vetted; the tests wait for them. They
# start after sops is built: by then the dependencies BuildKit shares with
# this module are compiled, once.
(
	for hook in scripts/setup-*.sh; do
		[ -e "$hook" ] || continue
		log "running $hook"
		bash "$hook"
	done
) &
setup=$!
# On an early failure, let the setup finish rather than orphan its apt-get
# or go build (the hooks are safe to run again).
trap 'wait "$setup" 2>/dev/null || true' EXIT

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
log "go vet"
go vet ./...
log "waiting for scripts/setup-*.sh"
wait "$setup"
trap - EXIT

# staticcheck and the README's demo run beside go test: its end is the
# end-to-end suite waiting on podman and BuildKit, which leaves a core idle.
out=$(mktemp -d /dev/shm/sealenv-test.XXXXXX 2>/dev/null || mktemp -d) # memory: the demo's stderr
trap 'rm -rf "$out"' EXIT
log "go test, with staticcheck and the README's demo (scripts/demo.sh) beside it"
staticcheck ./... >"$out/staticcheck" 2>&1 &
staticcheck=$!
./scripts/demo.sh >/dev/null 2>"$out/demo" &
demo=$!
status=0
go test -count=1 -timeout 30m ./... || status=$?
if ! wait "$staticcheck"; then
	log "staticcheck failed:"
	cat "$out/staticcheck" >&2
	status=1
fi
if ! wait "$demo"; then
	log "the README's demo (scripts/demo.sh) failed:"
	cat "$out/demo" >&2
	status=1
fi
exit "$status"
