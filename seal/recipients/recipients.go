// Package recipients parses the public keys a bundle's data key is wrapped
// to. It is a leaf: both the policy ([github.com/sealenv/sealenv/policies])
// and the writer ([github.com/sealenv/sealenv/seal/author]) use it, and it
// imports neither.
//
// Public keys are not secret, so errors quote them; anything that looks like
// a private key is refused without being echoed (see [LooksPrivate]).
package recipients

import (
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// Check reports whether r is a public key a bundle can be wrapped to: age
// X25519 (age1...), post-quantum hybrid (age1pq1...), an age plugin
// recipient (age1name1...), ssh-ed25519 or ssh-rsa.
func Check(r string) error {
	if LooksPrivate(r) {
		return errors.New("a recipient looks like a private key (identity): use its public key (age1..., ssh-...), and treat the private key as leaked if it was committed or shared")
	}
	var err error
	switch {
	case r == "":
		return errors.New("empty recipient")
	case strings.HasPrefix(r, "age1pq1"):
		_, err = age.ParseHybridRecipient(r)
	case strings.HasPrefix(r, "age1") && strings.Count(r, "1") > 1 && !isX25519(r):
		// plugin recipient: checked by the plugin when it is used
	case strings.HasPrefix(r, "age1"):
		_, err = age.ParseX25519Recipient(r)
	case strings.HasPrefix(r, "ssh-ed25519 "), strings.HasPrefix(r, "ssh-rsa "):
		_, err = agessh.ParseRecipient(r)
	default:
		return fmt.Errorf("recipient %q is not an age1..., ssh-ed25519 or ssh-rsa public key", Short(r))
	}
	if err != nil {
		return fmt.Errorf("recipient %q is malformed", Short(r))
	}
	return nil
}

func isX25519(r string) bool {
	_, err := age.ParseX25519Recipient(r)
	return err == nil
}

// LooksPrivate reports whether s looks like private key material, which must
// never be echoed in an error.
func LooksPrivate(s string) bool {
	u := strings.ToUpper(s)
	return strings.Contains(u, "AGE-SECRET-KEY") || strings.Contains(u, "AGE-PLUGIN-") || strings.Contains(u, "PRIVATE KEY") || strings.Contains(s, "-----BEGIN")
}

// Short keeps a quoted public key readable in a one-line error.
func Short(s string) string {
	if len(s) > 80 {
		return s[:60] + "..." + s[len(s)-8:]
	}
	return s
}
