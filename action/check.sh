#!/usr/bin/env bash
# The action's check step: sealenv check, and, in a pull request (or with
# the base input), check --base, which reports what the change of
# sealenv.yaml does to trust (recipients, signers, allowlists, generators;
# docs/policy.md). actions/checkout fetches one commit, so the base branch
# and the history since it (which names who added a recipient) are fetched
# first.
#
#   SEALENV_POLICY         the policy file ("" finds sealenv.yaml)
#   SEALENV_BASE           the base: a commit, or a branch of origin; "" is
#                          GITHUB_BASE_REF (set in pull_request events)
#   SEALENV_TRUST_CHANGES  error (default: the job fails) or warning
set -euo pipefail

args=()
if [ -n "${SEALENV_POLICY:-}" ]; then
	args+=(--policy "$SEALENV_POLICY")
fi
base=${SEALENV_BASE:-${GITHUB_BASE_REF:-}}
if [ -n "$base" ]; then
	case $base in -*)
		echo "sealenv check: base $base is not a git ref" >&2
		exit 2
		;;
	esac
	if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
		git fetch --quiet --no-tags --unshallow origin
	fi
	if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
		git fetch --quiet --no-tags origin "+refs/heads/$base:refs/remotes/origin/$base"
		base=origin/$base
	fi
	args+=(--base "$base" --trust-changes "${SEALENV_TRUST_CHANGES:-error}")
fi
exec sealenv check "${args[@]}"
