package fingerprint

import (
	"errors"

	"github.com/sealenv/sealenv/seal"
)

// State says whether a bundle's recorded fingerprint of a value can be
// searched.
type State int

const (
	// Current: the fingerprint was made for the value the bundle holds.
	Current State = iota
	// Missing: the bundle records no fingerprint of the value (written
	// before fingerprints, by another tool, or with a salt this version
	// cannot read).
	Missing
	// Stale: the value's stored form changed (sops set, sops edit) since
	// its fingerprint was made.
	Stale
	// TooWeak: the value is too short or too guessable to have a fingerprint
	// (see [Weak]); only an identity can search it.
	TooWeak
	// Unencrypted: the value is stored as it is (plaintext), so no
	// fingerprint of it is recorded; an audit reports it as Missing.
	Unencrypted
)

// Value is the state of one value's fingerprint.
type Value struct {
	Name  string
	State State
	// Print is the fingerprint's stored form, when State is Current.
	Print string
}

// Coverage returns the state of the fingerprint of every non-empty value
// of a bundle as [seal.Inspect] read it, in the bundle's order, and the
// bundle's salt (ok false when it records none this version can read).
// It needs no identity.
func Coverage(info *seal.Info) (salt Salt, ok bool, values []Value) {
	salt, err := ParseSalt(info.Prints.Salt)
	ok = err == nil
	for i, name := range info.Keys {
		if info.Empty[i] {
			continue // nothing to find
		}
		pr, found := info.Prints.ByName[name]
		v := Value{Name: name}
		switch {
		case !info.Encrypted[i]:
			v.State = Unencrypted
		case !found || !ok:
			v.State = Missing
		case pr.For != info.Current.Sums[name]:
			v.State = Stale
		case pr.Weak || pr.Text == "":
			v.State = TooWeak
		default:
			v.Print = pr.Text
		}
		values = append(values, v)
	}
	return salt, ok, values
}

// Maker returns what a write calls to fingerprint a value under salt:
// the Print's stored form, or weak for a value too short or too guessable
// to have one ([Weak]).
func Maker(salt Salt) func(value []byte) (text string, weak bool, err error) {
	return func(v []byte) (string, bool, error) {
		text, err := Make(salt, v)
		if errors.Is(err, ErrWeak) {
			return "", true, nil
		}
		return text, false, err
	}
}
