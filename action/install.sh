#!/usr/bin/env bash
# Installs a sealenv release for CI: downloads the archive for this machine,
# verifies its SHA-256 (against SEALENV_SHA256 when given, else against the
# release's checksums.txt, whose cosign signature is verified when cosign is
# there or SEALENV_VERIFY_SIGNATURE=true), unpacks it, and checks that the
# binary reports the version asked for. Used by action.yml; any CI can run it.
#
#   SEALENV_VERSION           vX.Y.Z (required)
#   SEALENV_SHA256            the archive's sha256 (pin it for the strongest check)
#   SEALENV_RELEASE_URL       default https://github.com/sealenv/sealenv/releases/download
#   SEALENV_VERIFY_SIGNATURE  auto (default), true or false
#   SEALENV_INSTALL_DIR       default $RUNNER_TEMP/sealenv-VERSION (or a temp folder)
#
# Prints the folder that holds sealenv (and, on linux, sealenv-inject) and
# appends it to $GITHUB_PATH when that is set. Exit 2 on any failure, with
# one ::error:: line; nothing is installed then.
set -euo pipefail

fail() {
	echo "::error title=sealenv install::$*" >&2
	exit 2
}

version=${SEALENV_VERSION:-}
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]] || fail "version '${version}': want vX.Y.Z"
case "$(uname -s)" in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) fail "$(uname -s) runners are not supported; use a linux or macOS runner" ;;
esac
case "$(uname -m)" in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) fail "no sealenv release for $(uname -m)" ;;
esac
archive="sealenv_${version#v}_${os}_${arch}.tar.gz"
base="${SEALENV_RELEASE_URL:-https://github.com/sealenv/sealenv/releases/download}/${version}"
dest=${SEALENV_INSTALL_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/sealenv-${version}}

sha256() {
	if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/$archive" "$base/$archive" || fail "downloading $base/$archive"

want=${SEALENV_SHA256:-}
if [ -z "$want" ]; then
	curl -fsSL --retry 3 -o "$work/checksums.txt" "$base/checksums.txt" || fail "downloading $base/checksums.txt"
	verify=${SEALENV_VERIFY_SIGNATURE:-auto}
	if [ "$verify" = true ] || { [ "$verify" = auto ] && command -v cosign >/dev/null; }; then
		command -v cosign >/dev/null || fail "SEALENV_VERIFY_SIGNATURE=true but cosign is not on PATH"
		curl -fsSL --retry 3 -o "$work/checksums.txt.sigstore.json" "$base/checksums.txt.sigstore.json" ||
			fail "downloading $base/checksums.txt.sigstore.json"
		cosign verify-blob --bundle "$work/checksums.txt.sigstore.json" \
			--certificate-identity "https://github.com/sealenv/sealenv/.github/workflows/release.yml@refs/tags/${version}" \
			--certificate-oidc-issuer https://token.actions.githubusercontent.com \
			"$work/checksums.txt" >/dev/null 2>&1 || fail "checksums.txt of ${version}: the cosign signature does not verify"
	elif [ "$verify" != auto ] && [ "$verify" != false ]; then
		fail "SEALENV_VERIFY_SIGNATURE=$verify: want auto, true or false"
	fi
	want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/checksums.txt")
	[ -n "$want" ] || fail "checksums.txt of ${version} has no line for $archive"
fi
got=$(sha256 "$work/$archive")
[ "$got" = "$want" ] || fail "$archive: sha256 $got, want $want"

mkdir -p "$work/unpacked"
tar -xzf "$work/$archive" -C "$work/unpacked" || fail "unpacking $archive"
[ -x "$work/unpacked/sealenv" ] || fail "$archive has no sealenv binary"
said=$("$work/unpacked/sealenv" --version 2>&1) || fail "the sealenv of $archive does not run: $said"
[ "$said" = "sealenv ${version}" ] || fail "the sealenv of $archive says '$said', want 'sealenv ${version}'"

# Into place in one rename, so that a concurrent run never sees half a folder.
mkdir -p "$(dirname "$dest")"
stage=$(mktemp -d "$dest.partial.XXXXXX")
for bin in sealenv sealenv-inject; do
	if [ -e "$work/unpacked/$bin" ]; then
		install -m 0755 "$work/unpacked/$bin" "$stage/$bin"
	fi
done
chmod 0755 "$stage"
rm -rf "$dest"
mv "$stage" "$dest" || fail "moving the release into $dest"
if [ -n "${GITHUB_PATH:-}" ]; then
	echo "$dest" >>"$GITHUB_PATH"
fi
echo "$dest"
