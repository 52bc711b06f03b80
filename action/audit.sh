#!/usr/bin/env bash
# Runs `sealenv audit image` for the GitHub Action: a JSON report (the gate
# and the job summary), a SARIF file for code scanning, a Markdown summary of
# the findings (masked previews only: the audit never reports a value) and
# of the coverage, and the step outputs. Any CI can run it.
#
#   SEALENV_IMAGE        the image, any `sealenv audit image` SOURCE (required)
#   SEALENV_BUNDLES      sealed bundles whose values are searched, one a line
#   SEALENV_POLICY       sealenv.yaml (its bundles are searched when no bundle is given)
#   SEALENV_DOCKERFILE   a Dockerfile to lint as well
#   SEALENV_ARGS         more audit flags, split on white space (--severity low --insecure)
#   SEALENV_REPORT       the JSON report (default $RUNNER_TEMP/sealenv-audit.json)
#   SEALENV_SARIF        the SARIF file ("" for none; a second read of the image)
#   SEALENV_FAIL         true (default): exit 1 on findings; false: only report them
#   SEALENV_ATTEST       true: also write the verdict, when clean, to
#                        $RUNNER_TEMP/sealenv-attestation.json (output
#                        attestation) for action/attest.sh; false (default)
#   SEALENV_ATTEST_KEY   with SEALENV_ATTEST: sign it with this key and attach
#                        it to the image (its password in COSIGN_PASSWORD)
#
# The identity that opens the bundles comes from the usual variables
# (SEALENV_AGE_KEY, SEALENV_AGE_KEY_FILE, ...), never from an argument.
# Exit 0 clean, 1 findings (with SEALENV_FAIL=true), 2 error or incomplete.
set -euo pipefail

fail() {
	echo "::error title=sealenv audit::$*" >&2
	exit 2
}
[ -n "${SEALENV_IMAGE:-}" ] || fail "no image: set the image input"
command -v sealenv >/dev/null || fail "sealenv is not on PATH"
command -v jq >/dev/null || fail "jq is not on PATH"
report=${SEALENV_REPORT:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/sealenv-audit.json}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
output=${GITHUB_OUTPUT:-/dev/null}

args=(audit image "$SEALENV_IMAGE")
while IFS= read -r b; do
	b=${b#"${b%%[![:space:]]*}"}
	b=${b%"${b##*[![:space:]]}"}
	[ -n "$b" ] && args+=(--bundle "$b")
done <<<"${SEALENV_BUNDLES:-}"
[ -n "${SEALENV_POLICY:-}" ] && args+=(--policy "$SEALENV_POLICY")
[ -n "${SEALENV_DOCKERFILE:-}" ] && args+=(--dockerfile "$SEALENV_DOCKERFILE")
if [ -n "${SEALENV_ARGS:-}" ]; then
	read -r -a extra <<<"$SEALENV_ARGS"
	args+=("${extra[@]}")
fi

attest=()
case "${SEALENV_ATTEST:-false}" in
true)
	attestation=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/sealenv-attestation.json
	rm -f "$attestation"
	attest=(--attest "$attestation")
	[ -n "${SEALENV_ATTEST_KEY:-}" ] && attest+=(--attest-key "$SEALENV_ATTEST_KEY")
	;;
false) ;;
*) fail "attest: ${SEALENV_ATTEST}: want true or false" ;;
esac

rm -f "$report"
set +e
sealenv "${args[@]}" ${attest[@]+"${attest[@]}"} --format json --output "$report"
code=$?
set -e
if [ ${#attest[@]} -gt 0 ] && [ -s "$attestation" ]; then
	echo "attestation=$attestation" >>"$output"
fi
if [ "$code" -gt 2 ] || [ ! -s "$report" ] || ! jq -e '.coverage' "$report" >/dev/null 2>&1; then
	{
		echo "### sealenv audit: error"
		echo
		echo "The audit of \`${SEALENV_IMAGE}\` did not finish (exit $code); see the step log."
	} >>"$summary"
	echo "exit-code=$code" >>"$output"
	fail "the audit of ${SEALENV_IMAGE} did not finish (exit $code)"
fi

if [ -n "${SEALENV_SARIF-sealenv.sarif}" ]; then
	sarif=${SEALENV_SARIF-sealenv.sarif}
	set +e
	sealenv "${args[@]}" --format sarif --output "$sarif"
	scode=$?
	set -e
	[ "$scode" -le 1 ] && [ -s "$sarif" ] || echo "::warning title=sealenv audit::the SARIF report could not be written (exit $scode)" >&2
	echo "sarif=$sarif" >>"$output"
fi

findings=$(jq '.findings | length' "$report")
complete=$(jq '.coverage.complete' "$report")
{
	echo "report=$report"
	echo "findings=$findings"
	echo "complete=$complete"
	echo "exit-code=$code"
} >>"$output"

# The summary. Every cell is HTML-escaped; previews are the audit's masked
# ones (at most four bytes of a match).
jq -r --arg image "$SEALENV_IMAGE" '
  def cell: tostring | gsub("[\r\n]"; " ") | @html | gsub("\\|"; "&#124;");
  def location:
    if .where == "layer" then
      "layer \(.layer_index) <code>\(.path | cell)</code>"
      + (if .offset != null then " @ \(.offset)" else "" end)
      + (if .deleted_in_layer != null then " (deleted in layer \(.deleted_in_layer))" else "" end)
    elif .where == "dockerfile" then "<code>\(.path | cell)</code>" + (if (.line // 0) > 0 then ":\(.line)" else "" end)
    else "\(.where) <code>\(.field | cell)</code>" end;
  .coverage as $c
  | (if $c.complete | not then "### sealenv audit: incomplete"
     elif (.findings | length) > 0 then "### sealenv audit: \(.findings | length) finding(s)"
     else "### sealenv audit: clean" end),
    "",
    "Image <code>\($image | cell)</code>, sealenv \(.version | cell).",
    "",
    "**Coverage:** \($c.images) image(s), \($c.layers) layer(s), \($c.files) file(s), \($c.bytes) bytes, \($c.attestations) attestation(s), \($c.known_values) sealed value(s) searched, rule set \($c.rule_set | cell), severity \($c.severity | cell) and above; "
      + (if $c.complete then "complete." else "**incomplete**: \(($c.errors // []) | map(cell) | join("; "))." end),
    "",
    (if (.findings | length) > 0 then
      "| # | severity | kind | rule | secret or name | where | encoding | preview |",
      "| ---: | --- | --- | --- | --- | --- | --- | --- |",
      (.findings[:200] | to_entries[] | .key as $i | .value
        | "| \($i + 1) | \(.severity | cell) | \(.kind | cell) | \(.rule | cell) | \((if .secret != "" then .secret else (.name // "") end) | cell) | \(location) | \(.encoding | cell) | <code>\(.preview | cell)</code> |"),
      (if (.findings | length) > 200 then "", "… and \((.findings | length) - 200) more in the JSON report." else empty end)
    else "No findings." end),
    ""
' "$report" >>"$summary"

case "$code" in
0) exit 0 ;;
1)
	if [ "${SEALENV_FAIL:-true}" = true ]; then
		echo "::error title=sealenv audit::$findings finding(s) in ${SEALENV_IMAGE}; see the job summary" >&2
		exit 1
	fi
	echo "::warning title=sealenv audit::$findings finding(s) in ${SEALENV_IMAGE}; see the job summary" >&2
	exit 0
	;;
*) fail "the audit of ${SEALENV_IMAGE} is incomplete or failed (exit $code); see the coverage in the job summary" ;;
esac
