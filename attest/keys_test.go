package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
)

func password(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

func noPassword(t *testing.T) func() ([]byte, error) {
	return func() ([]byte, error) {
		t.Error("asked for a password for an unencrypted key")
		return nil, errors.New("no password")
	}
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each form cosign reads gives back the same key, which signs an envelope
// its public key file verifies.
func TestParseKeys(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []crypto.Signer{cosigntest.ECDSA(t), cosigntest.Ed25519(t)} {
		enc := cosigntest.Encrypted(t, dir, "enc", s)
		plain := cosigntest.PKCS8(t, dir, "plain", s)
		for name, got := range map[string]func() (crypto.Signer, error){
			"encrypted": func() (crypto.Signer, error) { return ParsePrivateKey(read(t, enc.Private), password(enc.Password)) },
			"pkcs8":     func() (crypto.Signer, error) { return ParsePrivateKey(read(t, plain.Private), noPassword(t)) },
		} {
			k, err := got()
			if err != nil {
				t.Fatalf("%s %T: %v", name, s.Public(), err)
			}
			pub, err := ParsePublicKey(read(t, enc.Public))
			if err != nil {
				t.Fatal(err)
			}
			env, err := Sign(k, PayloadType, []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.Verify(pub); err != nil {
				t.Errorf("%s %T: the parsed key's signature does not verify with the public key: %v", name, s.Public(), err)
			}
		}
	}
}

func TestParseSEC1Key(t *testing.T) {
	k := cosigntest.ECDSA(t).(*ecdsa.PrivateKey)
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), noPassword(t))
	if err != nil || !got.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Fatalf("SEC 1 key: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	dir := t.TempDir()
	enc := cosigntest.Encrypted(t, dir, "enc", cosigntest.ECDSA(t))
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	derRSA, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	costly, err := cosigntest.EncryptKey([]byte("x"), []byte("p"), 1<<15)
	if err != nil {
		t.Fatal(err)
	}
	costly = []byte(strings.Replace(string(costly), `"N":32768`, `"N":1048576`, 1))
	for name, tc := range map[string]struct {
		data []byte
		pass func() ([]byte, error)
		want string
	}{
		"wrong password": {read(t, enc.Private), password(enc.Password + "x"), "wrong password"},
		"no password":    {read(t, enc.Private), func() ([]byte, error) { return nil, errors.New("COSIGN_PASSWORD is not set") }, "COSIGN_PASSWORD is not set"},
		"P-384":          {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}), noPassword(t), "ECDSA P-384 (want ECDSA P-256 or Ed25519)"},
		"RSA":            {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: derRSA}), noPassword(t), "RSA (want ECDSA P-256 or Ed25519)"},
		"public key":     {read(t, enc.Public), noPassword(t), "a public key, not a private key"},
		"not PEM":        {[]byte("-----BEGIN nothing"), noPassword(t), "not a PEM key"},
		"other block":    {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), noPassword(t), `unsupported PEM block "CERTIFICATE"`},
		"scrypt cost":    {pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED COSIGN PRIVATE KEY", Bytes: costly}), password("p"), "unsupported scrypt parameters N=1048576"},
	} {
		_, err := ParsePrivateKey(tc.data, tc.pass)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), enc.Password) {
			t.Errorf("%s: the error holds the password", name)
		}
	}
	if _, err := ParsePublicKey(read(t, enc.Private)); !errors.Is(err, ErrNotPublicKey) {
		t.Errorf("a private key as the public key: %v", err)
	}
	pub384, _ := x509.MarshalPKIXPublicKey(p384.Public())
	if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub384})); err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("a P-384 public key: %v", err)
	}
}
