#!/usr/bin/env bash
# The main job on an embedded example, on a fresh machine with Go and no
# container runtime: build a tiny image, seal secrets for it, wrap the image
# with the injector, start the app the way the container would (the injector
# decrypts in memory and execs the app), and audit the image.
# Everything lives in a private directory on tmpfs and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /dev/shm/sealenv-demo.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
say() { printf '\n==> %s\n' "$*"; }
indent() { sed 's/^/    /'; }

say "building sealenv, the slim injector (static), the example app and image tool"
go build -o "$work/sealenv" ./cmd/sealenv
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/sealenv-inject" ./cmd/sealenv-inject
CGO_ENABLED=0 go build -trimpath -o "$work/app" ./examples/app
go build -o "$work/imagetool" ./examples/imagetool
S="$work/sealenv"
echo "    sealenv-inject: $(stat -c %s "$work/sealenv-inject") bytes"

say "a tiny image, FROM scratch, whose entrypoint is the app (no secrets in it)"
"$work/imagetool" build "$work/app" "$work/app.tar" /app --serve DATABASE_PASSWORD STRIPE_API_KEY DATABASE_URL
echo "    $work/app.tar"

say "sealenv keygen: the identity the runtime will mount at /run/secrets/sealenv_age_key"
R=$("$S" keygen -o "$work/key.txt")
echo "    recipient: $R"
export SEALENV_AGE_KEY_FILE="$work/key.txt"

say "sealenv seal + set: values come from stdin, never argv"
"$S" seal -r "$R" -o "$work/prod.env"
head -c 24 /dev/urandom | base64 | "$S" set "$work/prod.env" DATABASE_PASSWORD
head -c 24 /dev/urandom | base64 | "$S" set "$work/prod.env" STRIPE_API_KEY
printf 'postgres://app@db:5432/app' | "$S" set "$work/prod.env" DATABASE_URL
echo "    what gets committed: key names in clear, each value encrypted on its own"
cut -c1-72 "$work/prod.env" | head -4 | indent

say "sealenv wrap --audit: add the injector and bundle to the image, audit it, write it only if clean"
"$S" wrap "docker-archive:$work/app.tar" "oci:$work/wrapped" --bundle "$work/prod.env" --injector "$work/sealenv-inject" --audit 2>&1 | indent

say "starting it the way the container would: the injector decrypts in memory and execs the app"
mkdir "$work/rootfs"
"$work/imagetool" rootfs "oci:$work/wrapped" "$work/rootfs"
(
	cd "$work/rootfs"
	# In a container these are the defaults; here the image's files sit in a directory.
	"$work/rootfs/usr/local/bin/sealenv-inject" --bundle etc/sealenv/bundle.env --identity "$work/key.txt" --no-access-log \
		-- ./app DATABASE_PASSWORD STRIPE_API_KEY DATABASE_URL
) 2>&1 | indent

say "sealenv audit image: every layer, the config, history and attestations, searched for each sealed value"
"$S" audit image "oci:$work/wrapped" --bundle "$work/prod.env" 2>&1 | tail -3 | indent

say "and a leak is caught: an image that bakes a sealed value into its config Env"
"$S" reveal "$work/prod.env" STRIPE_API_KEY | "$work/imagetool" build --env-stdin STRIPE_API_KEY "$work/app" "$work/leaky.tar" /app
set +e
"$S" audit image "docker-archive:$work/leaky.tar" --bundle "$work/prod.env" > "$work/leak-report.txt" 2>&1
status=$?
set -e
indent < "$work/leak-report.txt"
echo "    exit status $status (1: findings); the report masks the value"
[ "$status" -eq 1 ] || { echo "demo: the audit missed the leak" >&2; exit 1; }

say "done; $work removed"
