//go:build unix

package author_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// BenchmarkSealImport is sealenv seal -i: parse a .env of n keys, encrypt
// and write the bundle. It must grow linearly with n.
func BenchmarkSealImport(b *testing.B) {
	id := newIdentity(b)
	for _, n := range []int{8_000, 24_000, 80_000} {
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
				if _, err := bundle.Import(plain, author.DialectSops); err != nil {
					b.Fatal(err)
				}
				if _, err := bundle.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSealImportIsLinear: importing 80,000 keys (about as many short keys
// as fit in a 16 MiB bundle) takes less than 30 times as long as 8,000
// (linear: 10x; the quadratic code took over 100x). It is not parallel: it
// measures the CPU time of the whole process, which runs no parallel test
// before every sequential one is done.
func TestSealImportIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of CPU")
	}
	id := newIdentity(t)
	// CPU time of the process, not wall time: the machine may be busy.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	run := func(n int) time.Duration {
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "K%05d=v%05d\n", i, i)
		}
		start := cpu()
		b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Import([]byte(in.String()), author.DialectSops); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Marshal(); err != nil {
			t.Fatal(err)
		}
		return cpu() - start
	}
	small, large := run(8_000), run(80_000)
	if large > 30*small && large > 2*time.Second {
		t.Fatalf("8,000 keys %v, 80,000 keys %v of CPU: not linear", small, large)
	}
	t.Logf("8,000 keys %v, 80,000 keys %v of CPU", small, large)
}
