#!/usr/bin/env bash
# The entry of the sealenv-scan and sealenv-check pre-commit hooks: runs the
# sealenv release of this revision of the hook repository, installed once
# (SHA-256 checked against the release's checksums.txt, its cosign signature
# too when cosign is there) by action/install.sh into
# ${XDG_CACHE_HOME:-~/.cache}/sealenv/VERSION. Nothing is compiled.
#
#   SEALENV_HOOK_VERSION  another release than this revision's (a mirror's)
#   SEALENV_RELEASE_URL   where releases are downloaded from (see action/install.sh)
set -euo pipefail

# The release this revision of the hooks runs; scripts/set-version.sh changes
# it together with every other pinned version.
version=${SEALENV_HOOK_VERSION:-v0.1.0}

here=$(cd "$(dirname "$0")" && pwd)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/sealenv/$version"
if [ ! -x "$dir/sealenv" ] || [ "$("$dir/sealenv" --version 2>/dev/null)" != "sealenv $version" ]; then
	echo "sealenv: installing $version into $dir (once)" >&2
	SEALENV_VERSION=$version SEALENV_INSTALL_DIR=$dir GITHUB_PATH='' "$here/../action/install.sh" >/dev/null
fi
# pre-commit run --from-ref REF --to-ref REF (the CI idiom) and the pre-push
# stage say the base of the change: check then also reports what the change
# of sealenv.yaml does to trust (check --base; docs/policy.md).
if [ "${1:-}" = check ] && [ -n "${PRE_COMMIT_FROM_REF:-}" ]; then
	set -- "$@" --base "$PRE_COMMIT_FROM_REF"
fi
exec "$dir/sealenv" "$@"
