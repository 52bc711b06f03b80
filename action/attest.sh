#!/usr/bin/env bash
# Attests the audited image for the GitHub Action (attest: true), after
# action/audit.sh wrote the verdict. With a key (SEALENV_ATTEST_KEY) sealenv
# has signed and attached it already. Without one it is signed keyless, in
# the two-step path of docs/attest.md: `cosign attest --predicate` of the
# statement's predicate, for the image's digest, with the job's OIDC
# identity (Fulcio certificate, Rekor entry).
#
#   SEALENV_IMAGE         the image the audit read
#   SEALENV_ATTESTATION   the verdict audit.sh wrote; empty when the audit was
#                         not clean (then nothing is attested: a warning)
#   SEALENV_ATTEST_KEY    the key sealenv signed with, if any
#
# Needs, keyless: a docker:// image (cosign attaches to a registry), cosign
# on PATH, jq, and the job's OIDC token (permissions: id-token: write). A
# missing one fails the step (exit 2) with one ::error:: line saying which.
set -euo pipefail

fail() {
	echo "::error title=sealenv attest::$*" >&2
	exit 2
}
image=${SEALENV_IMAGE:-}
att=${SEALENV_ATTESTATION:-}
output=${GITHUB_OUTPUT:-/dev/null}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
predicate_type=https://sealenv.dev/audit/v1

if [ -z "$att" ] || [ ! -s "$att" ]; then
	echo "::warning title=sealenv attest::the audit of ${image} is not clean: nothing was attested" >&2
	exit 0
fi
if [ -n "${SEALENV_ATTEST_KEY:-}" ]; then
	# sealenv signed the verdict with the key and attached it to the image.
	echo "attestation=$att" >>"$output"
	printf '\nAttested: the verdict, signed with the given key, is attached to `%s`.\n' "$image" >>"$summary"
	exit 0
fi

case "$image" in
docker://*) ;;
*) fail "keyless attest needs a registry image: cosign attaches the attestation to docker://REF, not ${image} (or give attest-key)" ;;
esac
[ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] && [ -n "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ] ||
	fail "keyless attest needs the job's OIDC token: add 'permissions: id-token: write' to the job (or give attest-key)"
command -v cosign >/dev/null || fail "attest needs cosign on PATH: add 'uses: sigstore/cosign-installer@v3' before this step"
command -v jq >/dev/null || fail "jq is not on PATH"

[ "$(jq -r .predicateType "$att")" = "$predicate_type" ] || fail "$att is not a sealenv statement"
ref=$(jq -r '.subject[0].name + "@sha256:" + .subject[0].digest.sha256' "$att")
[[ $ref =~ @sha256:[0-9a-f]{64}$ ]] || fail "$att names no image digest"
predicate=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/sealenv-predicate.json
jq .predicate "$att" >"$predicate"
cosign attest --yes --type "$predicate_type" --predicate "$predicate" "$ref" ||
	fail "cosign attest of $ref failed"
echo "attestation=$att" >>"$output"
printf '\nAttested: `%s` carries the verdict, signed keyless by this job (cosign attest, type %s).\n' "$ref" "$predicate_type" >>"$summary"
