#!/usr/bin/env bash
# Builds a release snapshot with goreleaser, as the release workflow would but
# without signing or publishing, and checks it: `goreleaser check`, then
# `goreleaser release --snapshot --clean --skip=sign`, then internal/release's
# tests against dist/ (every archive of the README's table with exactly what
# the table says, checksums.txt, an SBOM per archive, the linux binaries'
# --version, the README's install commands). .ci/run runs it after the
# README's test command. See docs/release.md.
#
# goreleaser v2.15.1 is installed from the Go module proxy into
# ${XDG_CACHE_HOME:-~/.cache}/sealenv-release/bin (minutes, once); the SBOM
# generator is this repository's internal/sbomgen, built each run (seconds).
# When goreleaser cannot be installed this says so in a banner and exits 0,
# or 1 with SEALENV_REQUIRE_PEERS=1 (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER_VERSION=v2.15.1
bin="${XDG_CACHE_HOME:-$HOME/.cache}/sealenv-release/bin"
export PATH="$bin:$PATH"

log() { printf '==> %s\n' "$*" >&2; }
banner() {
	printf '\n%s\n!!! %s\n%s\n\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" "$*" \
		"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
}
missing() {
	banner "release snapshot: $* (SKIPPED)"
	if [ "${SEALENV_REQUIRE_PEERS:-}" = 1 ]; then
		exit 1
	fi
}

# install NAME MODULE VERSION: go install into $bin unless that version is there.
install_tool() {
	local name=$1 module=$2 version=$3
	if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.version" 2>/dev/null)" = "$version" ]; then
		return 0
	fi
	log "installing $name $version from the Go module proxy (several minutes, once)"
	local start=$SECONDS
	if GOBIN="$bin" GOFLAGS=-buildvcs=false go install "$module@$version" >&2; then
		echo "$version" >"$bin/$name.version"
		log "$name $version installed in $((SECONDS - start)) s"
		return 0
	fi
	return 1
}

mkdir -p "$bin"
if ! install_tool goreleaser github.com/goreleaser/goreleaser/v2 "$GORELEASER_VERSION"; then
	missing "goreleaser $GORELEASER_VERSION could not be installed with go install"
	exit 0
fi
skip=sign
export SEALENV_NO_SBOM=
go build -o "$bin/sealenv-sbomgen" ./internal/sbomgen

log "goreleaser check"
goreleaser check

# goreleaser reads the remote URL; a checkout without one (a local clone in
# CI has origin, a fresh worktree may not) gets the project's, for this run only.
if [ -z "$(git remote 2>/dev/null)" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/sealenv/sealenv
fi
log "goreleaser release --snapshot --clean --skip=$skip"
start=$SECONDS
goreleaser release --snapshot --clean --skip="$skip"
log "snapshot built in $((SECONDS - start)) s"
for f in dist/*.tar.gz dist/*.zip dist/*.sbom.json dist/checksums.txt; do
	[ -e "$f" ] && printf '    %10d  %s\n' "$(wc -c <"$f")" "${f#dist/}" >&2
done

log "checking the snapshot against the README (internal/release)"
SEALENV_DIST="$PWD/dist" go test -count=1 -run 'TestSnapshotArchives|TestReadmeInstallCommands' -v ./internal/release/ |
	grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+release_test)' >&2
