package policies

import (
	"fmt"

	"github.com/sealenv/sealenv/seal/recipients"
)

// Starter returns a commented starter policy with one environment, prod,
// wrapped to recipient (labelled owner). It is what `sealenv init` writes,
// and it parses.
func Starter(recipient, owner string) ([]byte, error) {
	if err := recipients.Check(recipient); err != nil {
		return nil, err
	}
	text := []byte(fmt.Sprintf(starter, recipient, owner))
	if _, err := Parse(FileName, text); err != nil {
		return nil, fmt.Errorf("the starter policy does not parse: %w", err)
	}
	return text, nil
}

const starter = `# sealenv policy: who may decrypt what, what a valid value is, when it must rotate.
# Reference: docs/policy.md. Check it with: sealenv check
version: 1

environments:
  - name: prod
    bundle: secrets/prod.env        # relative to this file; commit only sealed bundles
    recipients:                     # age (age1...), ssh-ed25519 or ssh-rsa public keys
      - key: %s
        owner: %s
    # required: [DATABASE_URL]      # keys this environment must hold

# Rules for every key without its own entry.
defaults:
  max_age: 90d                      # sealenv check fails older values; rotate --due renews them
  warn_before: 14d                  # warn this long before max_age
  grace: 72h                        # rotate keeps the old value as KEY_PREVIOUS this long

# Per-key rules.
keys:
  # DATABASE_URL:
  #   required: true
  #   pattern: '^postgres://'
  # API_TOKEN:
  #   min_length: 32
  #   forbid: [test-token]         # on top of the built-in placeholders (changeme, TODO, ...)
  #   generator: {length: 32, alphabet: base64url}   # or {command: "vendor-cli new-token"}
  #   max_age: 30d

# Least privilege: which keys each service may receive (sealenv inject --service).
services: []
  # - name: api
  #   environments: [prod]
  #   keys: [DATABASE_URL, API_TOKEN]

audit:
  rules: []                         # custom credential patterns: {id, description, regex, keywords, entropy}
  allowlist: []                     # {rule, path, secret, reason}: every entry needs a reason
`
