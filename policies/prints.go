package policies

import "github.com/sealenv/sealenv/internal/fingerprint"

// Rule IDs of the fingerprints an audit without an identity searches.
const (
	// RuleFingerprintStale: a value changed outside sealenv (sops set,
	// sops edit) since its fingerprint was made.
	RuleFingerprintStale = "fingerprint-stale"
	// RuleFingerprintMissing: the bundle records no fingerprint of a value.
	RuleFingerprintMissing = "fingerprint-missing"
)

// fingerprints reports the values an audit without an identity cannot
// search because their fingerprints are stale or missing: that audit is
// incomplete (exit 2) until sealenv adopt records them. A warning here, for
// the audit is the gate; values too guessable to fingerprint are the
// audit's to report, and plaintext values plaintext's.
func (c *envCheck) fingerprints() {
	_, _, values := fingerprint.Coverage(c.info)
	for _, v := range values {
		switch v.State {
		case fingerprint.Stale:
			c.v(v.Name, RuleFingerprintStale, SeverityWarning, "%s changed outside sealenv since its fingerprint was made, so an audit without an identity cannot search it: run sealenv adopt %s (with an identity)", v.Name, c.env.Bundle)
		case fingerprint.Missing:
			c.v(v.Name, RuleFingerprintMissing, SeverityWarning, "%s has no fingerprint, so an audit without an identity cannot search it: run sealenv adopt %s (with an identity)", v.Name, c.env.Bundle)
		}
	}
}
