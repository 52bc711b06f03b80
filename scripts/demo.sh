#!/usr/bin/env bash
# The main job on an embedded example, on a fresh machine: build sealenv,
# make an identity, seal generated secrets into a bundle, show what a
# reviewer sees, rotate one value with a grace period, and read them back.
# Nothing secret is written outside a private directory on tmpfs, and it is
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /dev/shm/sealenv-demo.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

echo "==> building sealenv"
go build -o "$work/sealenv" ./cmd/sealenv
S="$work/sealenv"

echo "==> sealenv keygen: a new identity; its public key is the recipient"
R=$("$S" keygen -o "$work/key.txt")
echo "    recipient: $R"
export SEALENV_AGE_KEY_FILE="$work/key.txt"

echo "==> sealenv seal: an empty bundle for that recipient"
"$S" seal -r "$R" -o "$work/prod.env"

echo "==> sealenv set: values come from stdin, never from argv"
head -c 24 /dev/urandom | base64 | "$S" set "$work/prod.env" DATABASE_PASSWORD
head -c 24 /dev/urandom | base64 | "$S" set "$work/prod.env" STRIPE_API_KEY
printf 'postgres://app@db:5432/app' | "$S" set "$work/prod.env" DATABASE_URL

echo "==> the committed file: key names in clear, every value encrypted on its own"
cut -c1-78 "$work/prod.env" | sed 's/^/    /'

echo "==> sealenv rotate --grace: new random value, the old one kept as _PREVIOUS for 72h"
"$S" rotate "$work/prod.env" STRIPE_API_KEY --grace 72h

echo "==> sealenv show: names and metadata, no key needed, no value shown"
"$S" show "$work/prod.env" | sed 's/^/    /'

echo "==> sealenv reveal (with the identity): the values, checked against the MAC"
"$S" reveal "$work/prod.env" --format json | sed -E 's/(": ").{6}[^"]*/\1******(masked by the demo)/' | sed 's/^/    /'

if command -v sops >/dev/null; then
	echo "==> the bundle is a SOPS file: sops decrypts it too"
	SOPS_AGE_KEY_FILE="$work/key.txt" sops decrypt "$work/prod.env" | cut -d= -f1 | sed 's/^/    key: /'
fi
echo "==> done; $work removed"
