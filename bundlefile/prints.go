package bundlefile

import (
	"fmt"
	"os"

	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
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
	d.Fingerprint(author.Fingerprinter{Salt: salt.String(), Make: fingerprint.Maker(salt)})
	return nil
}

// OutdatedPrints names the encrypted values whose fingerprints the bundle
// file lacks or made for another value (another tool changed it): an
// audit with no identity cannot search them, and any write of the draft
// records new ones (see [fingerprint.Coverage]). It reads the file again,
// which the write's lock keeps as it was loaded.
func (d *Draft) OutdatedPrints() ([]string, error) {
	data, err := os.ReadFile(d.real)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path, fsutil.Reason(err))
	}
	f, err := d.o.format(d.Path, data)
	if err != nil {
		return nil, err
	}
	info, err := seal.Inspect(f, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path, err)
	}
	var out []string
	_, _, values := fingerprint.Coverage(info)
	for _, v := range values {
		if v.State == fingerprint.Missing || v.State == fingerprint.Stale {
			out = append(out, v.Name)
		}
	}
	return out, nil
}
