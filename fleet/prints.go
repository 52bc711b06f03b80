package fleet

import (
	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/seal"
)

// keyless gathers the fingerprints of the bundles of a keyless audit, and
// the values they do not cover.
type keyless struct {
	bundles     []fingerprint.Bundle
	notSearched []audit.Unprinted
}

// reasons says why a value is not searched, by the state of its
// fingerprint.
var reasons = map[fingerprint.State]audit.UnprintedReason{
	fingerprint.Missing:     audit.NoPrint,
	fingerprint.Unencrypted: audit.NoPrint,
	fingerprint.Stale:       audit.StalePrint,
	fingerprint.TooWeak:     audit.WeakPrint,
}

// add takes the fingerprints info records for its encrypted values: a
// value with none (or whose bundle's salt cannot be read), one changed
// since its fingerprint was made, or one too guessable to have one is not
// searched (see [fingerprint.Coverage]). accept says whether the policy's
// allow_short accepts that a key's value too guessable to fingerprint is
// not searched.
func (k *keyless) add(path string, info *seal.Info, accept func(key string) bool) {
	salt, _, values := fingerprint.Coverage(info)
	b := fingerprint.Bundle{Path: path, Salt: salt, Prints: map[string]string{}}
	for _, v := range values {
		if v.State != fingerprint.Current {
			k.notSearched = append(k.notSearched, audit.Unprinted{Bundle: path, Name: v.Name, Reason: reasons[v.State],
				Accepted: v.State == fingerprint.TooWeak && accept(v.Name)})
			continue
		}
		b.Prints[v.Name] = v.Print
	}
	k.bundles = append(k.bundles, b)
}

func (k *keyless) compile() (*audit.Prints, error) {
	set, err := fingerprint.NewSet(k.bundles)
	if err != nil {
		return nil, err
	}
	return &audit.Prints{Set: set, NotSearched: k.notSearched}, nil
}
