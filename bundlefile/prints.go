package bundlefile

import (
	"errors"

	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/seal/author"
)

// fingerprint makes the write record a fingerprint of every encrypted
// value, for an audit with no identity: under the bundle's salt, or a new
// one for a bundle that has none (or one this version cannot read). A value
// unchanged since the bundle was read keeps its fingerprint; one too short
// or too guessable is recorded as weak, with no fingerprint.
func (d *Draft) fingerprint() error {
	salt, err := fingerprint.ParseSalt(d.PrintSalt())
	if err != nil {
		if salt, err = fingerprint.NewSalt(); err != nil {
			return err
		}
	}
	d.Fingerprint(author.Fingerprinter{Salt: salt.String(), Make: func(v []byte) (string, bool, error) {
		text, err := fingerprint.Make(salt, v)
		if errors.Is(err, fingerprint.ErrWeak) {
			return "", true, nil
		}
		return text, false, err
	}})
	return nil
}
