package author_test

import (
	"bytes"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
)

// TestDeriveKey: a bundle's derived key is the same for every holder and
// every open, survives an edit (sops keeps the data key), differs between
// purposes and between bundles holding the same values, and is gone after
// Zero.
func TestDeriveKey(t *testing.T) {
	t.Parallel()
	a, b := newIdentity(t), newIdentity(t)
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	mk := func() []byte {
		bn := newBundle(t, seal.FormatDotenv, c, a.Recipient().String(), b.Recipient().String())
		if err := bn.Set("K", []byte("the-same-value")); err != nil {
			t.Fatal(err)
		}
		return marshal(t, bn)
	}
	one, two := mk(), mk()
	open := func(data []byte, id *age.X25519Identity) *seal.Bundle {
		t.Helper()
		o, err := seal.Open(seal.FormatDotenv, data, id)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	ka := open(one, a).DeriveKey("p")
	if len(ka) != 32 {
		t.Fatalf("derived key of %d bytes, want 32", len(ka))
	}
	if kb := open(one, b).DeriveKey("p"); !bytes.Equal(ka, kb) {
		t.Errorf("two holders of one bundle derive different keys")
	}
	if bytes.Equal(ka, open(one, a).DeriveKey("q")) {
		t.Errorf("two purposes derive the same key")
	}
	if bytes.Equal(ka, open(two, a).DeriveKey("p")) {
		t.Errorf("two bundles with the same values derive the same key")
	}
	edited := load(t, seal.FormatDotenv, one, a, c)
	if err := edited.Set("L", []byte("another")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ka, open(marshal(t, edited), a).DeriveKey("p")) {
		t.Errorf("an edit changed the derived key")
	}
	z := open(one, a)
	z.Zero()
	if z.DeriveKey("p") != nil {
		t.Errorf("a zeroed bundle still derives a key")
	}
}
