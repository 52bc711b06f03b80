// Package cosigntest makes signing keys in the formats cosign reads and
// writes, generated at test time: cosign's encrypted key ("ENCRYPTED
// SIGSTORE PRIVATE KEY", NaCl secretbox under an scrypt key), unencrypted
// PKCS #8, and PKIX public keys. Only tests import it; the real cosign
// checks the same formats in the end-to-end test (e2e/attest_test.go).
package cosigntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// Key is a key pair in files of one folder.
type Key struct {
	Private string // the private key file (0600)
	Public  string // the PEM public key file
	Signer  crypto.Signer
	// Password is the encrypted key's password, random per key ("" for an
	// unencrypted key). Pass it as COSIGN_PASSWORD, never as an argument.
	Password string
}

// ECDSA returns a new ECDSA P-256 key.
func ECDSA(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Ed25519 returns a new Ed25519 key.
func Ed25519(t testing.TB) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// PKCS8 writes s as an unencrypted PKCS #8 PEM ("PRIVATE KEY") and its
// public key, in dir, named name.pem and name.pub.
func PKCS8(t testing.TB, dir, name string, s crypto.Signer) Key {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Private: filepath.Join(dir, name+".pem"), Public: filepath.Join(dir, name+".pub"), Signer: s}
	write(t, k.Private, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	write(t, k.Public, PublicPEM(t, s.Public()), 0o644)
	return k
}

// Encrypted writes s as cosign writes a key (name.key, "ENCRYPTED SIGSTORE
// PRIVATE KEY") under a random password, and its public key (name.pub).
func Encrypted(t testing.TB, dir, name string, s crypto.Signer) Key {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	pass := make([]byte, 12)
	if _, err := rand.Read(pass); err != nil {
		t.Fatal(err)
	}
	k := Key{Private: filepath.Join(dir, name+".key"), Public: filepath.Join(dir, name+".pub"), Signer: s, Password: hex.EncodeToString(pass)}
	body, err := EncryptKey(der, []byte(k.Password), 1<<15)
	if err != nil {
		t.Fatal(err)
	}
	write(t, k.Private, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: body}), 0o600)
	write(t, k.Public, PublicPEM(t, s.Public()), 0o644)
	return k
}

// EncryptKey seals a PKCS #8 key as the body of cosign's encrypted key:
// JSON with the scrypt parameters (cost n, r 8, p 1) and salt, the
// secretbox nonce and the ciphertext. cosign accepts n of 2^15, 2^16 and
// 2^17; tests use 2^15, the fastest.
func EncryptKey(der, pass []byte, n int) ([]byte, error) {
	salt := make([]byte, 32)
	var nonce [24]byte
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	k, err := scrypt.Key(pass, salt, n, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	var key [32]byte
	copy(key[:], k)
	type params struct {
		N int `json:"N"`
		R int `json:"r"`
		P int `json:"p"`
	}
	type kdf struct {
		Name   string `json:"name"`
		Params params `json:"params"`
		Salt   []byte `json:"salt"`
	}
	type cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	}
	return json.Marshal(struct {
		KDF        kdf    `json:"kdf"`
		Cipher     cipher `json:"cipher"`
		Ciphertext []byte `json:"ciphertext"`
	}{kdf{"scrypt", params{n, 8, 1}, salt}, cipher{"nacl/secretbox", nonce[:]}, secretbox.Seal(nil, der, &nonce, &key)})
}

// PublicPEM encodes a public key as PEM "PUBLIC KEY" (PKIX), as cosign.pub.
func PublicPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func write(t testing.TB, p string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
}
