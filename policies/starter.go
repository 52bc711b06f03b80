package policies

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/seal"
)

// StarterEnv is one environment of a starter policy.
type StarterEnv struct {
	Name   string
	Bundle string // relative to the policy, slash-separated
	// Groups are the keys that may decrypt: one group is a list of
	// recipients, several are Shamir key groups of which Threshold (0:
	// all) are needed.
	Groups    [][]seal.MasterKey
	Threshold int
	// Owner labels every recipient ("me"); From says in a comment where
	// the keys come from (".sops.yaml"), or is empty.
	Owner, From string
}

// Starter returns a commented starter policy with envs (one at least),
// which parses. It is what `sealenv init` writes; every command it names
// is in single quotes (a test checks each against the CLI).
func Starter(envs []StarterEnv) ([]byte, error) {
	if len(envs) == 0 {
		return nil, fmt.Errorf("a starter policy needs an environment")
	}
	var b strings.Builder
	b.WriteString(starterHead)
	for _, e := range envs {
		fmt.Fprintf(&b, "  - name: %s\n    bundle: %s%s\n", scalar(e.Name), scalar(e.Bundle), pad(e.Bundle, "# relative to this file; commit only sealed bundles"))
		if e.From != "" {
			fmt.Fprintf(&b, "    # who may decrypt: as the %s creation rule for %s says, so that check and sops updatekeys agree\n", e.From, e.Bundle)
		}
		if len(e.Groups) > 1 {
			b.WriteString("    key_groups:\n")
			for _, g := range e.Groups {
				b.WriteString("      - recipients:\n")
				writeRecipients(&b, g, e.Owner, "          ")
			}
			if e.Threshold > 0 {
				fmt.Fprintf(&b, "    shamir_threshold: %d\n", e.Threshold)
			}
		} else {
			b.WriteString("    recipients:                     # age (age1...), ssh-ed25519 or ssh-rsa keys; pgp, kms, ... (docs/policy.md)\n")
			for _, g := range e.Groups {
				writeRecipients(&b, g, e.Owner, "      ")
			}
		}
		b.WriteString("    # required: [DATABASE_URL]      # keys this environment must hold\n")
		b.WriteString("    # allow_names: [NODE_OPTIONS]   # names the injector refuses that this bundle may set (docs/policy.md)\n")
	}
	b.WriteString(starterTail)
	text := []byte(b.String())
	if _, err := Parse(FileName, text); err != nil {
		return nil, fmt.Errorf("the starter policy does not parse: %w", err)
	}
	return text, nil
}

// writeRecipients writes one recipient entry per key, in the policy's
// field for its type.
func writeRecipients(b *strings.Builder, keys []seal.MasterKey, owner, indent string) {
	for _, k := range keys {
		field := k.Type
		if k.Type == seal.KeyAge {
			field = "key"
		}
		fmt.Fprintf(b, "%s- %s: %s\n", indent, field, scalar(k.ID))
		if k.Role != "" {
			fmt.Fprintf(b, "%s  role: %s\n", indent, scalar(k.Role))
		}
		if len(k.Context) > 0 {
			var names []string
			for n := range k.Context {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(b, "%s  context:\n", indent)
			for _, n := range names {
				fmt.Fprintf(b, "%s    %s: %s\n", indent, scalar(n), scalar(k.Context[n]))
			}
		}
		if owner != "" {
			fmt.Fprintf(b, "%s  owner: %s\n", indent, scalar(owner))
		}
	}
}

// scalar writes s as a YAML scalar, quoted when it needs to be.
func scalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// pad aligns a trailing comment after a value of the given width.
func pad(value, comment string) string {
	n := 26 - len(value)
	if n < 1 {
		n = 1
	}
	return strings.Repeat(" ", n) + comment
}

const starterHead = `# sealenv policy: who may decrypt what, what a valid value is, when it must rotate.
# Reference: docs/policy.md. Check it with: 'sealenv check'
version: 1

environments:
`

const starterTail = `
# Rules for every key without its own entry.
defaults:
  max_age: 90d                      # 'sealenv check' fails older values; 'sealenv rotate --due' renews them
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
  #   generator: {length: 32, alphabet: base64url}   # or {command: ...}, then 'sealenv pin API_TOKEN'
  #   max_age: 30d

# Least privilege: which keys each service may receive ('sealenv wrap --service NAME --env ENV').
services: []
  # - name: api
  #   environments: [prod]
  #   keys: [DATABASE_URL, API_TOKEN]

audit:
  rules: []                         # custom credential patterns: {id, description, regex, keywords, entropy}
  allowlist: []                     # {rule, path, secret, reason}: every entry needs a reason
`
