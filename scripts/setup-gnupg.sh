#!/usr/bin/env bash
# setup-gnupg.sh: installs GnuPG (gpg, gpg-agent) when it is missing. The
# offboarding tests (cmd/sealenv) seal bundles to a real PGP key and check
# that its owner's sops decrypt fails after rekey. scripts/test.sh runs every
# scripts/setup-*.sh.
set -euo pipefail
if command -v gpg >/dev/null && command -v gpg-agent >/dev/null && command -v gpgconf >/dev/null; then
	exit 0
fi
echo "setup-gnupg: installing gnupg (apt-get)" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq gnupg >/dev/null
