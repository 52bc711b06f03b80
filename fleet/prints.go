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

// add takes the fingerprints info records for its encrypted values: a
// value with none (or whose bundle's salt cannot be read), one changed
// since its fingerprint was made, or one too guessable to have one is not
// searched.
func (k *keyless) add(path string, info *seal.Info) {
	salt, saltErr := fingerprint.ParseSalt(info.Prints.Salt)
	b := fingerprint.Bundle{Path: path, Salt: salt, Prints: map[string]string{}}
	for i, name := range info.Keys {
		if info.Empty[i] {
			continue // nothing to find
		}
		pr, ok := info.Prints.ByName[name]
		reason := audit.UnprintedReason("")
		switch {
		case !ok || saltErr != nil || !info.Encrypted[i]:
			reason = audit.NoPrint
		case pr.For != info.Current.Sums[name]:
			reason = audit.StalePrint
		case pr.Weak || pr.Text == "":
			reason = audit.WeakPrint
		}
		if reason != "" {
			k.notSearched = append(k.notSearched, audit.Unprinted{Bundle: path, Name: name, Reason: reason})
			continue
		}
		b.Prints[name] = pr.Text
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
