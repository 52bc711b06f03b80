#!/usr/bin/env bash
# Installs the shells whose completion the CLI tests drive for real (bash is
# there already): zsh and fish, from Debian's packages, only when missing.
# scripts/test.sh runs every scripts/setup-*.sh before the tests.
set -euo pipefail

missing=()
command -v zsh >/dev/null || missing+=(zsh)
command -v fish >/dev/null || missing+=(fish)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "setup-shells: error: not root and no sudo: cannot install ${missing[*]} with apt-get" >&2
		exit 1
	}
	sudo_cmd=(sudo)
fi
echo "setup-shells: installing ${missing[*]}" >&2
# Lock::Timeout: wait for another apt-get (another setup script, or
# unattended-upgrades on a new machine) instead of failing.
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
