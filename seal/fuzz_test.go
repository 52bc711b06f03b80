package seal_test

import (
	"bytes"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// FuzzOpen mutates real bundles (made at test time with a fresh key). The
// reader must never panic, and whenever it accepts input it must return
// exactly the values that were sealed: data that failed the MAC never comes
// out.
func FuzzOpen(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	values := map[string]string{"A": "alpha", "B": "", "C": "multi\nline ✓"}
	seeds := map[seal.Format][]byte{}
	for _, format := range seal.Formats() {
		b, err := author.New(format, []string{id.Recipient().String()})
		if err != nil {
			f.Fatal(err)
		}
		for _, k := range []string{"A", "B", "C"} {
			if err := b.Set(k, []byte(values[k])); err != nil {
				f.Fatal(err)
			}
		}
		data, err := b.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		seeds[format] = data
		f.Add(byte(format), data)
	}
	f.Fuzz(func(t *testing.T, format byte, data []byte) {
		fm := seal.Format(int(format)%len(seal.Formats()) + 1)
		b, err := seal.Open(fm, data, id)
		seal.Inspect(fm, data) // must not panic either
		if err != nil {
			return
		}
		if len(b.Unauthenticated) > 0 {
			t.Fatalf("accepted a sealenv-derived bundle with unauthenticated keys %v", b.Unauthenticated)
		}
		if len(b.Secrets) != len(values) {
			t.Fatalf("accepted with %d values, want %d", len(b.Secrets), len(values))
		}
		for _, s := range b.Secrets {
			if want, ok := values[s.Name]; !ok || !bytes.Equal(s.Value, []byte(want)) {
				t.Fatalf("accepted with a value for %q that was never sealed", s.Name)
			}
		}
	})
}
