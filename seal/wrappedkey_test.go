package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// sealTo wraps plain to the identity's recipient as the armored age file a
// bundle's stanza holds, with the age library that sops and sealenv write
// with.
func sealTo(t testing.TB, id *age.X25519Identity, plain []byte) string {
	t.Helper()
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// reArmor decodes an armored age file, lets edit change its bytes, and
// armors it again.
func reArmor(t *testing.T, armored string, edit func([]byte)) string {
	t.Helper()
	raw, err := io.ReadAll(armor.NewReader(strings.NewReader(armored)))
	if err != nil {
		t.Fatal(err)
	}
	edit(raw)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	if _, err := aw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestOpenWrappedKey: the one-chunk path opens what age writes, byte for
// byte as age.Decrypt does, and refuses what age refuses: a payload or a
// header changed by one bit, an identity the file is not wrapped to; a
// payload of more than one chunk goes through age.Decrypt.
func TestOpenWrappedKey(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	wrapped := sealTo(t, id, key)
	// The one-chunk path is taken only when age's header, as age writes it
	// again, is where the file starts.
	raw, err := io.ReadAll(armor.NewReader(strings.NewReader(wrapped)))
	if err != nil {
		t.Fatal(err)
	}
	if hdr, err := age.ExtractHeader(bytes.NewReader(raw)); err != nil || !bytes.HasPrefix(raw, hdr) || len(raw)-len(hdr) != 16+32+16 {
		t.Fatalf("age's header is not the file's prefix (%v): the one-chunk path is never taken", err)
	}

	got, err := openWrappedKey(wrapped, []age.Identity{other, id})
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("openWrappedKey = %d bytes, %v; want the 32-byte key", len(got), err)
	}

	last := reArmor(t, wrapped, func(raw []byte) { raw[len(raw)-1] ^= 1 })
	if _, err := openWrappedKey(last, []age.Identity{id}); !errors.Is(err, errPayload) {
		t.Errorf("payload tag changed: err = %v, want errPayload", err)
	}
	nonce := reArmor(t, wrapped, func(raw []byte) { raw[len(raw)-32-16-1] ^= 1 })
	if _, err := openWrappedKey(nonce, []age.Identity{id}); !errors.Is(err, errPayload) {
		t.Errorf("payload nonce changed: err = %v, want errPayload", err)
	}
	mac := reArmor(t, wrapped, func(raw []byte) {
		i := bytes.Index(raw, []byte("\n--- ")) + len("\n--- ")
		raw[i] ^= 'A' ^ 'B' // another base64 letter: a wrong header MAC
	})
	if _, err := openWrappedKey(mac, []age.Identity{id}); err == nil || errors.Is(err, errPayload) {
		t.Errorf("header MAC changed: err = %v, want age's header error", err)
	}
	var noMatch *age.NoIdentityMatchError
	if _, err := openWrappedKey(wrapped, []age.Identity{other}); !errors.As(err, &noMatch) {
		t.Errorf("other identity: err = %v, want *age.NoIdentityMatchError", err)
	}

	// Two chunks (64 KiB and more): age.Decrypt's path, its first 64 bytes.
	big := make([]byte, 64<<10+100)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	got, err = openWrappedKey(sealTo(t, id, big), []age.Identity{id})
	if err != nil || !bytes.Equal(got, big[:64]) {
		t.Errorf("two chunks: %d bytes, %v; want the first 64 bytes", len(got), err)
	}
	// A plaintext just over 64 bytes in one chunk goes there too.
	got, err = openWrappedKey(sealTo(t, id, big[:65]), []age.Identity{id})
	if err != nil || !bytes.Equal(got, big[:64]) {
		t.Errorf("65 bytes: %d bytes, %v; want the first 64 bytes", len(got), err)
	}
}

// BenchmarkOpenWrappedKey is the unwrap of one data key: the header through
// age (one X25519 agreement) and the one-chunk payload, side by side with
// the same file through age.Decrypt.
func BenchmarkOpenWrappedKey(b *testing.B) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	wrapped := sealTo(b, id, make([]byte, 32))
	raw, err := io.ReadAll(armor.NewReader(strings.NewReader(wrapped)))
	if err != nil {
		b.Fatal(err)
	}
	ids := []age.Identity{id}
	b.Run("one-chunk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := openWrappedKey(wrapped, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("age.Decrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := openAgeFile(raw, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHeaderEnd: the header the one-chunk path splits off is the one age
// itself reads (age.ExtractHeader), for files wrapped to one to five
// recipients and of payloads from empty to past one chunk; and the armor
// is read whole or refused as age's reader refuses it.
func TestHeaderEnd(t *testing.T) {
	t.Parallel()
	var ids []*age.X25519Identity
	for range 5 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for n := 1; n <= len(ids); n++ {
		for _, size := range []int{0, 32, 64, 65, 70000} {
			plain := make([]byte, size)
			rand.Read(plain)
			var buf bytes.Buffer
			aw := armor.NewWriter(&buf)
			var rs []age.Recipient
			for _, id := range ids[:n] {
				rs = append(rs, id.Recipient())
			}
			w, err := age.Encrypt(aw, rs...)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(plain)
			w.Close()
			aw.Close()
			raw, err := readArmored(buf.String())
			if err != nil {
				t.Fatalf("%d recipients, %d bytes: %v", n, size, err)
			}
			want, err := io.ReadAll(armor.NewReader(strings.NewReader(buf.String())))
			if err != nil || !bytes.Equal(raw, want) {
				t.Fatalf("%d recipients, %d bytes: readArmored differs from armor's reader", n, size)
			}
			hdr, err := age.ExtractHeader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if got := headerEnd(raw); got != len(hdr) || !bytes.HasPrefix(raw, hdr) {
				t.Errorf("%d recipients, %d bytes: header ends at %d, age reads %d bytes", n, size, got, len(hdr))
			}
			if got := headerEnd(raw[:len(hdr)-1]); got != -1 {
				t.Errorf("%d recipients, %d bytes: a header cut before its MAC line's end ends at %d, want -1", n, size, got)
			}
		}
	}
	for _, bad := range []string{"", "not armor", "-----BEGIN AGE ENCRYPTED FILE-----\n!!!!\n-----END AGE ENCRYPTED FILE-----\n"} {
		if _, err := readArmored(bad); err == nil {
			t.Errorf("readArmored(%q): no error", bad)
		}
	}
}
