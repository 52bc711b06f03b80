package match

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// randomValue is a credential-shaped value made at test time.
func randomValue(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte(hex.EncodeToString(b))
}

func TestDigest(t *testing.T) {
	t.Parallel()
	a, b := randomValue(t), randomValue(t)
	kw := []Keyword{{Text: "token", Fold: true, Rule: 0, After: 40}}
	base := New([]Value{{Name: "A", Value: a}, {Name: "B", Value: b}}, kw, nil).Digest()
	if got := New([]Value{{Name: "B", Value: b}, {Name: "A", Value: a}}, kw, nil).Digest(); got != base {
		t.Error("the order of the values changed the digest")
	}
	changed := map[string][32]byte{
		"a value":        New([]Value{{Name: "A", Value: a}, {Name: "B", Value: randomValue(t)}}, kw, nil).Digest(),
		"a name":         New([]Value{{Name: "A", Value: a}, {Name: "C", Value: b}}, kw, nil).Digest(),
		"one value less": New([]Value{{Name: "A", Value: a}}, kw, nil).Digest(),
		"a keyword":      New([]Value{{Name: "A", Value: a}, {Name: "B", Value: b}}, []Keyword{{Text: "secret", Fold: true, After: 40}}, nil).Digest(),
		"a window":       New([]Value{{Name: "A", Value: a}, {Name: "B", Value: b}}, []Keyword{{Text: "token", Fold: true, After: 41}}, nil).Digest(),
		"case folding":   New([]Value{{Name: "A", Value: a}, {Name: "B", Value: b}}, []Keyword{{Text: "token", After: 40}}, nil).Digest(),
	}
	for what, d := range changed {
		if d == base {
			t.Errorf("changing %s left the digest as it was", what)
		}
	}
	// A value too short to search is not searched: it does not change
	// what the matcher looks for.
	short := New([]Value{{Name: "A", Value: a}, {Name: "B", Value: b}, {Name: "S", Value: []byte("x")}}, kw, nil).Digest()
	if short != base {
		t.Error("a value shorter than MinLen changed the digest")
	}
}

// digestPrints is a [Prints] that finds nothing and has a given digest.
type digestPrints [32]byte

func (p digestPrints) Search([]byte, int, int, func(string, string, int, int)) {}
func (p digestPrints) MaxLen() int                                             { return 0 }
func (p digestPrints) Digest() [32]byte                                        { return p }

// TestDigestJoinsPrints: fingerprints searched beside the forms are part
// of what is searched, so the verdict cache must tell two sets apart.
func TestDigestJoinsPrints(t *testing.T) {
	t.Parallel()
	v := []Value{{Name: "A", Value: randomValue(t)}}
	none := New(v, nil, nil).Digest()
	one := New(v, nil, nil).WithPrints(digestPrints{1}).Digest()
	two := New(v, nil, nil).WithPrints(digestPrints{2}).Digest()
	if none == one || one == two {
		t.Error("the fingerprints searched do not change the digest")
	}
	if again := New(v, nil, nil).WithPrints(digestPrints{1}).Digest(); again != one {
		t.Error("the same fingerprints gave another digest")
	}
}
