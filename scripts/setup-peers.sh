#!/usr/bin/env bash
# setup-peers.sh: installs, from Debian's packages and only when missing,
# the real tools whose output the tests feed to sealenv: brotli, rpm
# (rpmbuild), 7zip (7zz), ncompress (compress, for .Z), cpio, git and
# dpkg-deb (.deb packages), lz4, zstd, xz-utils, zip, binutils (ar),
# python3 and nodejs (their zlib writers, zipapp), default-jdk-headless
# (jar), Docker Engine 20.10 (dockerd, for the docker-daemon: transport and
# `build --load`), php-cli and ruby (their standard libraries' JSON and URL
# escapes are oracles for the audit's known-value encodings; node, python3,
# java and perl too), and pre-commit (the framework that runs
# .pre-commit-hooks.yaml). The tests build their fixtures with these tools
# at test time instead of trusting files written by hand. scripts/test.sh
# runs every scripts/setup-*.sh.
set -euo pipefail

# command -> Debian package
declare -A want=(
	[brotli]=brotli
	[rpmbuild]=rpm
	[7zz]=7zip
	[compress]=ncompress
	[cpio]=cpio
	[git]=git
	[dpkg-deb]=dpkg
	[lz4]=lz4
	[zstd]=zstd
	[xz]=xz-utils
	[zip]=zip
	[ar]=binutils
	[python3]=python3
	[node]=nodejs
	[jar]=default-jdk-headless
	[dockerd]=docker.io
	[php]=php-cli
	[ruby]=ruby
	[pre-commit]=pre-commit
)
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
missing=()
for cmd in "${!want[@]}"; do
	command -v "$cmd" >/dev/null || missing+=("${want[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "setup-peers: error: not root and no sudo: cannot install ${missing[*]} with apt-get" >&2
		exit 1
	}
	sudo_cmd=(sudo)
fi
echo "setup-peers: installing ${missing[*]} (apt-get)" >&2
# Lock::Timeout: wait for another apt-get (another setup script) instead of
# failing. docker.io must not start a daemon of its own: the tests start
# theirs on a private socket (policy-rc.d refuses service starts).
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
	"${sudo_cmd[@]}" chmod 0755 "$policy"
	created_policy=true
fi
cleanup() { if $created_policy; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
