#!/usr/bin/env bash
# Installs what the end-to-end suite (e2e/) needs, and only what is missing:
# podman, runc and busybox-static from Debian's packages, and buildkitd +
# buildctl v0.26.3 built with `go build` from the Go module proxy in a
# throwaway module outside the repository, with this repository's
# dependency versions. The binaries are cached outside
# the repository, so a second run takes a fraction of a second. Prints where
# everything is. Safe to run again, and from several processes at once.
#
#   SEALENV_E2E_BIN_DIR   where buildkitd/buildctl are cached
#                         (default: ${XDG_CACHE_HOME:-$HOME/.cache}/sealenv-e2e/buildkit-v0.26.3;
#                         e2e/ looks in the same place)
set -euo pipefail

BUILDKIT_VERSION=v0.26.3
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin # runc lives in sbin
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
BIN_DIR=${SEALENV_E2E_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sealenv-e2e/buildkit-$BUILDKIT_VERSION}

log() { printf 'setup-e2e: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot install podman and runc with apt-get"
	sudo_cmd=(sudo)
fi

# One setup at a time (two test runs may start together on a new machine).
mkdir -p "$(dirname "$BIN_DIR")"
exec 9>"$BIN_DIR.lock"
flock 9

# podman and runc: Debian's packages; busybox-static gives FROM scratch test
# images a shell (/bin/busybox, statically linked) where a scenario needs one.
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
	log "installing ${missing[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	aptlog=$(mktemp)
	# Lock::Timeout: wait for another apt-get (another setup script) instead of failing.
	if ! { "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq &&
		"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
		tail -n 20 "$aptlog" >&2
		rm -f "$aptlog"
		die "apt-get install ${missing[*]} failed"
	fi
	rm -f "$aptlog"
fi
# uidmap/slirp/netavark are recommends we do not need: the suite runs rootful
# with --network=none. A podman that cannot even report its version is broken.
podman --version >/dev/null 2>&1 || die "podman is installed but 'podman --version' fails"

# buildkitd and buildctl: built from the module proxy, never committed.
have_buildkit() {
	[ -x "$BIN_DIR/buildkitd" ] && [ -x "$BIN_DIR/buildctl" ] &&
		"$BIN_DIR/buildctl" --version 2>/dev/null | grep -qwF -- "$BUILDKIT_VERSION"
}
if ! have_buildkit; then
	command -v go >/dev/null || die "go is not on PATH: cannot build buildkit $BUILDKIT_VERSION"
	log "building buildkitd and buildctl $BUILDKIT_VERSION into $BIN_DIR (once; takes minutes)"
	mkdir -p "$BIN_DIR"
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	# The throwaway module starts from this repository's go.mod and go.sum
	# (module renamed): BuildKit v0.26.3 is a dependency already, so every
	# module the two share is at the version our own packages compile with,
	# and with the same build flags as go test those packages come from the
	# build cache instead of being compiled a second time (on a fresh
	# machine: about 1 CPU-minute instead of 5). -mod=mod adds the sums of
	# what only buildkitd needs.
	repo=$(cd "$(dirname "$0")/.." && pwd)
	(
		cd "$scratch"
		export GOFLAGS=-mod=mod GOWORK=off
		sed '1s#^module .*#module sealenv-e2e-buildkit#' "$repo/go.mod" >go.mod
		cp "$repo/go.sum" go.sum
		grep -q "github.com/moby/buildkit $BUILDKIT_VERSION" go.mod ||
			die "go.mod does not require github.com/moby/buildkit $BUILDKIT_VERSION"
		ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
		# nice: the machine's cores are shared with other work.
		nice -n 10 go build -ldflags "$ldflags" -o "$scratch/out/" \
			github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl \
			2> >(grep -v '^go: downloading' >&2) ||
			die "go build of buildkit $BUILDKIT_VERSION failed"
	)
	install -m 0755 "$scratch/out/buildkitd" "$scratch/out/buildctl" "$BIN_DIR/"
	have_buildkit || die "built buildctl does not report version $BUILDKIT_VERSION"
fi

printf 'podman    %s (%s)\n' "$(command -v podman)" "$(podman --version)"
printf 'runc      %s\n' "$(command -v runc)"
printf 'busybox   %s\n' /bin/busybox
printf 'buildkitd %s\n' "$BIN_DIR/buildkitd"
printf 'buildctl  %s\n' "$BIN_DIR/buildctl"
