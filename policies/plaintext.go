package policies

import (
	"slices"
	"strings"
)

// IsPublic reports whether the policy says key is not secret (public:),
// so that a sops rule may store its value unencrypted.
func (p *Policy) IsPublic(key string) bool { return slices.Contains(p.Public, key) }

// plaintextByRule reports the values the file's sops rules store
// unencrypted (unencrypted_suffix, unencrypted_regex, or outside
// encrypted_suffix / encrypted_regex), read without a key: an error for
// each key the policy does not list under public:, since the value is in
// the repository in plaintext.
func (c *envCheck) plaintextByRule() {
	for _, k := range c.info.Plaintext() {
		if c.p.IsPublic(strings.TrimSpace(k)) {
			continue
		}
		c.v(k, RulePlaintextValue, SeverityError, "%s is stored unencrypted: the bundle's sops rules leave it in plaintext. If it is not a secret, list it under public: in %s; if it is, treat it as leaked, remove it (sealenv unset %s %s) and set a new value under a name the rules encrypt", k, FileName, c.env.Bundle, k)
	}
}
