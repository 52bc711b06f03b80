package author

import (
	"fmt"

	"github.com/sealenv/sealenv/seal"
)

// Fingerprinter makes the fingerprints of values (package
// internal/fingerprint) under one salt.
type Fingerprinter struct {
	// Salt is the salt's stored form.
	Salt string
	// Make returns the fingerprint of a value, or weak for a value too
	// short or too guessable to have one.
	Make func(value []byte) (text string, weak bool, err error)
}

// PrintSalt is the salt of the fingerprints the bundle had when loaded; ""
// for none.
func (b *Bundle) PrintSalt() string { return b.prints.Salt }

// Prints are the fingerprints the bundle had when loaded.
func (b *Bundle) Prints() seal.Prints { return b.prints }

// Fingerprint makes [Bundle.Marshal] record a fingerprint of every
// encrypted value made by f: a value unchanged since the bundle was
// loaded keeps its fingerprint when f has the same salt. Without it,
// Marshal keeps the fingerprints of unchanged values and drops the others.
func (b *Bundle) Fingerprint(f Fingerprinter) {
	b.printer = &f
	b.made = nil
}

// printsFor returns the fingerprints to record with rec: one per value
// that rec has a digest of and does not list as weak (an unencrypted value
// is in the file as it is), each with the digest it was made for.
func (b *Bundle) printsFor(rec seal.Record) (seal.Prints, error) {
	salt := b.prints.Salt
	if b.printer != nil {
		salt = b.printer.Salt
	}
	if salt == "" {
		return seal.Prints{}, nil
	}
	weak := make(map[string]bool, len(rec.Weak))
	for _, n := range rec.Weak {
		weak[n] = true
	}
	out := seal.Prints{Salt: salt, ByName: map[string]seal.Print{}}
	if b.made == nil {
		b.made = map[string]seal.Print{}
	}
	for name, sum := range rec.Sums {
		if weak[name] {
			continue
		}
		if p, ok := b.prints.ByName[name]; ok && p.For == sum && salt == b.prints.Salt {
			out.ByName[name] = p
			continue
		}
		if p, ok := b.made[name]; ok && p.For == sum {
			out.ByName[name] = p
			continue
		}
		if b.printer == nil {
			continue
		}
		v, ok := b.Get(name)
		if !ok {
			continue
		}
		text, isWeak, err := b.printer.Make([]byte(v))
		if err != nil {
			return seal.Prints{}, fmt.Errorf("fingerprinting %s: %w", name, err)
		}
		p := seal.Print{For: sum, Text: text, Weak: isWeak}
		b.made[name] = p
		out.ByName[name] = p
	}
	if len(out.ByName) == 0 {
		out.ByName = nil
	}
	return out, nil
}
