#!/usr/bin/env bash
# Pins every place that names a sealenv release to one version: the README's
# install commands, Dockerfile.example's injector image, the Action's and the
# GitLab template's defaults, the pre-commit hooks' release. Run it before
# tagging; internal/release checks that they all agree.
#
#   scripts/set-version.sh v0.2.0        # rewrite every pin to v0.2.0
#   scripts/set-version.sh --check v0.2.0  # exit 1 unless every pin is v0.2.0 (the release workflow)
set -euo pipefail
cd "$(dirname "$0")/.."

files=(README.md Dockerfile.example Dockerfile.inject action.yml ci/gitlab/sealenv-audit.yml docs/wrap.md docs/e2e.md
	.pre-commit-hooks.yaml scripts/pre-commit-sealenv.sh docs/release.md)
semver='v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?'
current=$(sed -n 's/^    default: \(v[0-9][^ ]*\)$/\1/p' action.yml | head -1)
[ -n "$current" ] || { echo "set-version: no version default in action.yml" >&2; exit 2; }

check=false
if [ "${1:-}" = --check ]; then
	check=true
	shift
fi
want=${1:-}
[[ $want =~ ^${semver}$ ]] || { echo "usage: scripts/set-version.sh [--check] vX.Y.Z" >&2; exit 2; }

if $check; then
	if [ "$current" != "$want" ]; then
		echo "set-version: the pinned release is $current, not $want: run scripts/set-version.sh $want and commit before tagging" >&2
		exit 1
	fi
	exit 0
fi
for f in "${files[@]}"; do
	sed -i.bak -E "s/(^|[^0-9A-Za-z.])${current//./\\.}([^0-9A-Za-z.-]|$)/\1${want}\2/g" "$f"
	rm -f "$f.bak"
done
echo "pinned $want (was $current) in ${files[*]}"
