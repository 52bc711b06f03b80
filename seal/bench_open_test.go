package seal_test

import (
	"fmt"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// BenchmarkOpen50 measures what the injector pays at every container start:
// unwrapping the data key and decrypting and authenticating a 50-key bundle.
func BenchmarkOpen50(b *testing.B) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []seal.Format{seal.FormatDotenv, seal.FormatYAML} {
		bb, err := author.New(f, []string{id.Recipient().String()})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 50 {
			if err := bb.Set(fmt.Sprintf("KEY_%d", i), []byte(fmt.Sprintf("value-%d-%032x", i, i*7919))); err != nil {
				b.Fatal(err)
			}
		}
		data, err := bb.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				o, err := seal.Open(f, data, id)
				if err != nil {
					b.Fatal(err)
				}
				o.Zero()
			}
		})
	}
}
