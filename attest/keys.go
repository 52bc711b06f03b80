package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of the private keys cosign writes (generate-key-pair,
// import-key-pair) and of the plain keys it imports.
const (
	sigstoreKeyType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	cosignKeyType   = "ENCRYPTED COSIGN PRIVATE KEY"
	pkcs8KeyType    = "PRIVATE KEY"
	ecKeyType       = "EC PRIVATE KEY"
	publicKeyType   = "PUBLIC KEY"
)

// Errors of the key parsers.
var (
	// ErrWrongPassword: an encrypted cosign key did not open with the
	// password (or it was damaged: the two cannot be told apart).
	ErrWrongPassword = errors.New("wrong password, or a damaged key")
	// ErrNotPrivateKey: the file holds a public key where a private key
	// was wanted.
	ErrNotPrivateKey = errors.New("a public key, not a private key")
	// ErrNotPublicKey: the file holds a private key where a public key
	// was wanted.
	ErrNotPublicKey = errors.New("a private key, not a public key")
)

// ParsePrivateKey reads a signing key: cosign's encrypted key (PEM
// "ENCRYPTED SIGSTORE PRIVATE KEY", or "ENCRYPTED COSIGN PRIVATE KEY" of
// older releases: PKCS #8 sealed with NaCl secretbox under an scrypt key),
// whose password password returns, or an unencrypted PKCS #8 ("PRIVATE
// KEY") or SEC 1 ("EC PRIVATE KEY") key. The key must be ECDSA P-256 or
// Ed25519. password is called only for an encrypted key.
func ParsePrivateKey(data []byte, password func() ([]byte, error)) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM key")
	}
	var key any
	var err error
	switch block.Type {
	case sigstoreKeyType, cosignKeyType:
		pass, perr := password()
		if perr != nil {
			return nil, perr
		}
		der, derr := decryptCosign(block.Bytes, pass)
		zero(pass)
		if derr != nil {
			return nil, derr
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
		zero(der)
	case pkcs8KeyType:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case ecKeyType:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case publicKeyType:
		return nil, ErrNotPrivateKey
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want a cosign key, PKCS #8 or EC PRIVATE KEY)", block.Type)
	}
	zero(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("malformed private key: %v", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	if err := checkKey(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX), as cosign.pub holds it.
// The key must be ECDSA P-256 or Ed25519.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM public key")
	}
	switch block.Type {
	case publicKeyType:
	case sigstoreKeyType, cosignKeyType, pkcs8KeyType, ecKeyType:
		return nil, ErrNotPublicKey
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want PUBLIC KEY)", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("malformed public key: %v", err)
	}
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// checkKey accepts ECDSA P-256 and Ed25519 keys.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("unsupported key: ECDSA %s (want ECDSA P-256 or Ed25519)", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		return errors.New("unsupported key: RSA (want ECDSA P-256 or Ed25519)")
	}
	return fmt.Errorf("unsupported key type %T (want ECDSA P-256 or Ed25519)", pub)
}

// encrypted is the JSON inside cosign's encrypted key (the format of
// go-securesystemslib's encrypted package).
type encrypted struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// decryptCosign opens the body of an encrypted cosign key. Only the scrypt
// costs cosign writes are accepted (N 2^15, 2^16 or 2^17; r 8; p 1), so
// that a crafted key cannot ask for unbounded memory.
func decryptCosign(body, pass []byte) ([]byte, error) {
	var e encrypted
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("malformed encrypted key: %v", err)
	}
	if e.KDF.Name != "scrypt" {
		return nil, fmt.Errorf("unsupported key derivation %q (want scrypt)", e.KDF.Name)
	}
	if e.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("unsupported cipher %q (want nacl/secretbox)", e.Cipher.Name)
	}
	p := e.KDF.Params
	if p.N != 1<<15 && p.N != 1<<16 && p.N != 1<<17 || p.R != 8 || p.P != 1 {
		return nil, fmt.Errorf("unsupported scrypt parameters N=%d r=%d p=%d", p.N, p.R, p.P)
	}
	if len(e.Cipher.Nonce) != 24 {
		return nil, errors.New("malformed encrypted key: the nonce is not 24 bytes")
	}
	k, err := scrypt.Key(pass, e.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the key: %v", err)
	}
	var key [32]byte
	var nonce [24]byte
	copy(key[:], k)
	copy(nonce[:], e.Cipher.Nonce)
	zero(k)
	out, ok := secretbox.Open(nil, e.Ciphertext, &nonce, &key)
	zero(key[:])
	if !ok {
		return nil, ErrWrongPassword
	}
	return out, nil
}

func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
