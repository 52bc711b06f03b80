#!/usr/bin/env bash
# setup-openssh.sh: installs the OpenSSH client tools (ssh-keygen, ssh-agent,
# ssh-add) when they are missing. The signature tests (seal/signature,
# seal/signing, cmd/sealenv) check that `ssh-keygen -Y verify` accepts the
# signatures sealenv writes and that sealenv accepts those of `ssh-keygen -Y
# sign`, and sign through a real ssh-agent. scripts/test.sh runs every
# scripts/setup-*.sh.
set -euo pipefail
if command -v ssh-keygen >/dev/null && command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
	exit 0
fi
echo "setup-openssh: installing openssh-client (apt-get)" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq openssh-client >/dev/null
