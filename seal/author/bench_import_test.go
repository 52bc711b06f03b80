package author_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// BenchmarkSealImport is sealenv seal -i: parse a .env of n keys, encrypt
// and write the bundle. It must grow linearly with n.
func BenchmarkSealImport(b *testing.B) {
	id := newIdentity(b)
	for _, n := range []int{10_000, 30_000, 100_000} {
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "K%05d=v%05d\n", i, i)
		}
		plain := []byte(in.String())
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			for b.Loop() {
				bundle, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
				if err != nil {
					b.Fatal(err)
				}
				if err := bundle.Import(plain); err != nil {
					b.Fatal(err)
				}
				if _, err := bundle.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSealImportIsLinear: importing 100,000 keys takes less than 30 times
// as long as 10,000 (linear: 10x; the quadratic code took over 100x).
func TestSealImportIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of CPU")
	}
	id := newIdentity(t)
	run := func(n int) time.Duration {
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "K%05d=v%05d\n", i, i)
		}
		start := time.Now()
		b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Import([]byte(in.String())); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Marshal(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	small, large := run(10_000), run(100_000)
	if large > 30*small && large > 2*time.Second {
		t.Fatalf("10,000 keys %v, 100,000 keys %v: not linear", small, large)
	}
}
