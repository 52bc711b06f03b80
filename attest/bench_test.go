package attest

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
)

// What signing and checking a verdict costs: the statement of a report,
// its envelope, and the verification sealenv verify does per envelope.
func BenchmarkSignVerify(b *testing.B) {
	payload, err := NewStatement(Subject{Name: "r/app", Digest: map[string]string{"sha256": "ab"}},
		NewPredicate(report("mk-0123456789", true, "high"), "v1", time.Now())).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for name, s := range map[string]crypto.Signer{"ecdsa-p256": cosigntest.ECDSA(b), "ed25519": cosigntest.Ed25519(b)} {
		b.Run(name+"/sign", func(b *testing.B) {
			for range b.N {
				if _, err := Sign(s, PayloadType, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		env, _ := Sign(s, PayloadType, payload)
		b.Run(name+"/verify", func(b *testing.B) {
			for range b.N {
				if _, err := env.Verify(s.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Opening cosign's encrypted key is scrypt at the cost cosign writes
// (N=2^16 by default): what --attest-key adds to a command once.
func BenchmarkOpenCosignKey(b *testing.B) {
	der := []byte("not a key: the cost is the key derivation")
	for _, n := range []int{1 << 15, 1 << 16} {
		body, err := cosigntest.EncryptKey(der, []byte("pw"), n)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(map[int]string{1 << 15: "N=2^15", 1 << 16: "N=2^16"}[n], func(b *testing.B) {
			for range b.N {
				if _, err := decryptCosign(body, []byte("pw")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Attaching to and verifying from an OCI layout, end to end, without a
// network: Publish (sign, replace the referrer in index.json) and Verify
// (read, check).
func BenchmarkLayoutPublishVerify(b *testing.B) {
	ref := writeLayout(b, false)
	k := cosigntest.ECDSA(b)
	ctx := context.Background()
	tg, err := Resolve(ctx, ref, Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := report("mk-0123456789", true)
	b.ResetTimer()
	for range b.N {
		if _, err := Publish(ctx, tg, r, PublishOptions{Signer: k, Attach: true}); err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(ctx, ref, VerifyOptions{Key: k.Public()}); err != nil {
			b.Fatal(err)
		}
	}
}
