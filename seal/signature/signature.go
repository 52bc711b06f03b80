package signature

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"time"
)

// Namespace is the sshsig namespace of a bundle signature. ssh-keygen(1)
// asks custom uses for a NAME@DOMAIN namespace; sealenv.github.io is the
// project's own domain. A signature made for anything else (git commits,
// "file") is never accepted for a bundle, nor the other way round.
const Namespace = "bundle@sealenv.github.io"

// Suffix is appended to a bundle's path to name its signature file.
const Suffix = ".sig"

// Path returns the signature file of the bundle at bundle: BUNDLE.sig.
func Path(bundle string) string { return bundle + Suffix }

// Locate returns the signature file of the bundle at path as every reader
// finds it (the injector, show, sign, check): next to the bundle's target
// when path is a symbolic link (symlinks followed, as a Kubernetes volume
// or a repository's current.env -> prod.env leaves them), so the signature
// travels with the file it signs; [Path] of path itself when path cannot
// be resolved (a missing bundle: the reader's error says so).
func Locate(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return Path(real)
	}
	return Path(path)
}

// Size limits: a signature file and an allowed signers file larger than
// these are refused unread. The largest signature (a 16384-bit RSA key and
// its signature, armored) is about 5.6 KiB.
const (
	MaxSignatureSize      = 64 << 10
	MaxAllowedSignersSize = 1 << 20
)

// The three ways a bundle can fail its signature check. Every error returned
// by this package matches one of them with errors.Is, or
// [ErrMalformedSigners] for an allowed signers file.
var (
	// ErrUnsigned: there is no signature. The package never reads files;
	// callers report a missing BUNDLE.sig with it.
	ErrUnsigned = errors.New("unsigned")
	// ErrBadSignature: the signature is malformed, of a key type sealenv
	// does not verify, made for another namespace, or not valid for the
	// bundle's bytes (the bundle changed after it was signed).
	ErrBadSignature = errors.New("bad signature")
	// ErrNotAllowed: a valid signature by a key that the allowed signers do
	// not allow (absent, another namespace, outside its validity).
	ErrNotAllowed = errors.New("signer not allowed")
	// ErrMalformedSigners: the allowed signers file cannot be parsed.
	ErrMalformedSigners = errors.New("malformed allowed signers")
)

// Error is a failure with its kind (one of the Err values above) and the
// reason. Its text never holds key material beyond public keys'
// fingerprints.
type Error struct {
	Kind   error
	Reason string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Kind }

func bad(format string, args ...any) error {
	return &Error{Kind: ErrBadSignature, Reason: fmt.Sprintf(format, args...)}
}

// Key types.
const (
	TypeEd25519   = "ssh-ed25519"
	TypeSKEd25519 = "sk-ssh-ed25519@openssh.com"
	TypeRSA       = "ssh-rsa"
)

// knownTypes are the key type names OpenSSH reads in an allowed signers
// file. Only the first three are verified; the others parse, so that a
// shared file with other people's ECDSA keys still works, but never
// verify.
var knownTypes = map[string]bool{
	TypeEd25519: true, TypeSKEd25519: true, TypeRSA: true,
	"ecdsa-sha2-nistp256": false, "ecdsa-sha2-nistp384": false, "ecdsa-sha2-nistp521": false,
	"sk-ecdsa-sha2-nistp256@openssh.com": false, "ssh-dss": false,
	"ssh-ed25519-cert-v01@openssh.com": false, "sk-ssh-ed25519-cert-v01@openssh.com": false,
	"ssh-rsa-cert-v01@openssh.com": false, "ssh-dss-cert-v01@openssh.com": false,
	"ecdsa-sha2-nistp256-cert-v01@openssh.com": false, "ecdsa-sha2-nistp384-cert-v01@openssh.com": false,
	"ecdsa-sha2-nistp521-cert-v01@openssh.com": false, "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": false,
}

// Supported reports whether sealenv verifies signatures of key type t.
func Supported(t string) bool { return knownTypes[t] }

// supportedList names the supported types in messages.
const supportedList = "ssh-ed25519, sk-ssh-ed25519@openssh.com and ssh-rsa"

// RSA modulus bounds, in bits. OpenSSH accepts 1024; sealenv asks for the
// size every current guideline does.
const (
	minRSABits = 2048
	maxRSABits = 16384
)

// PublicKey is an SSH public key.
type PublicKey struct {
	// Type is the key type name, e.g. "ssh-ed25519".
	Type string
	// Blob is the key in SSH wire format.
	Blob []byte

	ed  ed25519.PublicKey
	rsa *rsa.PublicKey
	app string // the FIDO application of an sk key
}

// Fingerprint is the key's SHA-256 fingerprint as ssh-keygen -l prints it:
// "SHA256:" and unpadded base64.
func (k *PublicKey) Fingerprint() string {
	sum := sha256.Sum256(k.Blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// String returns the key in authorized_keys form: "TYPE BASE64".
func (k *PublicKey) String() string {
	return k.Type + " " + base64.StdEncoding.EncodeToString(k.Blob)
}

// Equal reports whether k and o are the same key. Keys are parsed
// canonically, so equal keys have equal blobs.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return k != nil && o != nil && bytes.Equal(k.Blob, o.Blob)
}

// Supported reports whether sealenv verifies signatures of k's type.
func (k *PublicKey) Supported() bool { return Supported(k.Type) }

// ParsePublicKey parses a key in SSH wire format. A key of a type OpenSSH
// knows but sealenv does not verify parses, with [PublicKey.Supported]
// false.
func ParsePublicKey(blob []byte) (*PublicKey, error) {
	r := reader{b: blob}
	t := r.string()
	if r.err != nil {
		return nil, errors.New("malformed public key")
	}
	supported, known := knownTypes[string(t)]
	if !known {
		return nil, fmt.Errorf("unknown key type %q", printable(t))
	}
	k := &PublicKey{Type: string(t), Blob: bytes.Clone(blob)}
	if !supported {
		return k, nil
	}
	switch k.Type {
	case TypeEd25519:
		pub := r.string()
		if r.err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("malformed ssh-ed25519 key")
		}
		k.ed = ed25519.PublicKey(bytes.Clone(pub))
	case TypeSKEd25519:
		pub := r.string()
		app := r.string()
		if r.err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("malformed sk-ssh-ed25519 key")
		}
		k.ed, k.app = ed25519.PublicKey(bytes.Clone(pub)), string(app)
	case TypeRSA:
		e, err1 := r.mpint()
		n, err2 := r.mpint()
		if r.err != nil || err1 != nil || err2 != nil {
			return nil, errors.New("malformed ssh-rsa key")
		}
		if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("ssh-rsa key of %d bits (sealenv verifies %d to %d)", bits, minRSABits, maxRSABits)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("ssh-rsa key with an unusable public exponent")
		}
		k.rsa = &rsa.PublicKey{N: n, E: int(e.Int64())}
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("malformed %s key: trailing data", k.Type)
	}
	return k, nil
}

// ParseAuthorizedKey parses a key in authorized_keys form, "TYPE BASE64
// [COMMENT]", as .pub files and allowed signers lines hold it. The type
// name must match the type inside the key.
func ParseAuthorizedKey(s string) (*PublicKey, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return nil, errors.New("not an SSH public key (want TYPE BASE64)")
	}
	if _, known := knownTypes[f[0]]; !known {
		return nil, fmt.Errorf("unknown key type %q", printable([]byte(f[0])))
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(f[1])
	if err != nil {
		return nil, fmt.Errorf("%s key is not valid base64", f[0])
	}
	k, err := ParsePublicKey(blob)
	if err != nil {
		return nil, err
	}
	if k.Type != f[0] {
		return nil, fmt.Errorf("key says %s but holds a %s key", f[0], k.Type)
	}
	return k, nil
}

// Signature is a parsed SSH signature (sshsig, version 1).
type Signature struct {
	// Key is the public key the signature names as its signer.
	Key *PublicKey
	// Namespace is the namespace it was made for.
	Namespace string
	// Hash is the message hash: "sha256" or "sha512".
	Hash string

	algo string // the signature's algorithm: the key type, or rsa-sha2-*
	sig  []byte // the raw signature
	sk   []byte // sk keys: flags and counter, as signed
}

const (
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
	magic      = "SSHSIG"
)

// Parse reads an armored SSH signature, as `ssh-keygen -Y sign` writes it.
// It is strict: the armor must start the input and nothing but white space
// may follow it, and every field must be well formed. A signature whose key
// type sealenv does not verify is an error.
func Parse(armored []byte) (*Signature, error) {
	if len(armored) > MaxSignatureSize {
		return nil, bad("larger than %d bytes", MaxSignatureSize)
	}
	text := strings.ReplaceAll(string(armored), "\r\n", "\n")
	body, ok := strings.CutPrefix(text, armorBegin+"\n")
	if !ok {
		return nil, bad("not an SSH signature (no %s line)", armorBegin)
	}
	body, rest, ok := strings.Cut(body, armorEnd)
	if !ok || strings.TrimSpace(rest) != "" || !strings.HasSuffix(body, "\n") {
		return nil, bad("malformed armor (missing %s line, or data after it)", armorEnd)
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, bad("malformed armor (invalid base64)")
	}
	return parseBlob(blob)
}

func parseBlob(blob []byte) (*Signature, error) {
	if !bytes.HasPrefix(blob, []byte(magic)) {
		return nil, bad("not an SSH signature (no SSHSIG preamble)")
	}
	r := reader{b: blob[len(magic):]}
	version := r.uint32()
	pub := r.string()
	ns := r.string()
	r.string() // reserved
	hash := r.string()
	sigBlob := r.string()
	if r.err != nil || len(r.b) != 0 {
		return nil, bad("malformed signature")
	}
	if version != 1 {
		return nil, bad("signature version %d (want 1)", version)
	}
	key, err := ParsePublicKey(pub)
	if err != nil {
		return nil, bad("signer's key: %v", err)
	}
	if !key.Supported() {
		return nil, bad("signed with a %s key, which sealenv does not verify (it verifies %s)", key.Type, supportedList)
	}
	s := &Signature{Key: key, Namespace: string(ns), Hash: string(hash)}
	if s.Hash != "sha256" && s.Hash != "sha512" {
		return nil, bad("unsupported hash algorithm %q", printable(hash))
	}
	sr := reader{b: sigBlob}
	s.algo = string(sr.string())
	s.sig = sr.string()
	switch key.Type {
	case TypeEd25519:
		if s.algo != TypeEd25519 || len(s.sig) != ed25519.SignatureSize {
			return nil, bad("malformed ssh-ed25519 signature")
		}
	case TypeSKEd25519:
		s.sk = sr.bytes(5) // flags, counter
		if s.algo != TypeSKEd25519 || len(s.sig) != ed25519.SignatureSize {
			return nil, bad("malformed sk-ssh-ed25519 signature")
		}
	case TypeRSA:
		if s.algo != "rsa-sha2-256" && s.algo != "rsa-sha2-512" {
			return nil, bad("ssh-rsa signature with algorithm %q (want rsa-sha2-256 or rsa-sha2-512)", printable([]byte(s.algo)))
		}
		if k := (s.Key.rsa.N.BitLen() + 7) / 8; len(s.sig) > k || len(s.sig) == 0 {
			return nil, bad("malformed ssh-rsa signature")
		}
	}
	if sr.err != nil || len(sr.b) != 0 {
		return nil, bad("malformed %s signature", key.Type)
	}
	return s, nil
}

// signedData is what the key signs: the preamble, the namespace, the
// reserved field, the hash algorithm and the message's hash.
func (s *Signature) signedData(message []byte) []byte {
	var h []byte
	if s.Hash == "sha256" {
		sum := sha256.Sum256(message)
		h = sum[:]
	} else {
		sum := sha512.Sum512(message)
		h = sum[:]
	}
	var w writer
	w.raw([]byte(magic))
	w.string([]byte(s.Namespace))
	w.string(nil)
	w.string([]byte(s.Hash))
	w.string(h)
	return w.b
}

// Verify checks that s is a signature by s.Key of message in [Namespace].
// It does not say whether the key is allowed; see [Verify].
func (s *Signature) Verify(message []byte) error {
	if s.Namespace != Namespace {
		return bad("made for namespace %q, not %q", printable([]byte(s.Namespace)), Namespace)
	}
	data := s.signedData(message)
	switch s.Key.Type {
	case TypeEd25519:
		if !ed25519.Verify(s.Key.ed, data, s.sig) {
			return bad("does not match the bundle (changed after it was signed?)")
		}
	case TypeSKEd25519:
		// The authenticator signs the hash of the application, the flags,
		// the counter and the hash of the data (OpenSSH PROTOCOL.u2f).
		app := sha256.Sum256([]byte(s.Key.app))
		msg := sha256.Sum256(data)
		signed := append(append(app[:], s.sk...), msg[:]...)
		if !ed25519.Verify(s.Key.ed, signed, s.sig) {
			return bad("does not match the bundle (changed after it was signed?)")
		}
		if s.sk[0]&0x01 == 0 {
			return bad("the security key signed without user presence (no touch)")
		}
	case TypeRSA:
		hash, sum := crypto.SHA256, []byte(nil)
		if s.algo == "rsa-sha2-512" {
			h := sha512.Sum512(data)
			hash, sum = crypto.SHA512, h[:]
		} else {
			h := sha256.Sum256(data)
			sum = h[:]
		}
		sig := s.sig
		if k := (s.Key.rsa.N.BitLen() + 7) / 8; len(sig) < k { // OpenSSH pads a short signature
			sig = append(make([]byte, k-len(sig)), sig...)
		}
		if rsa.VerifyPKCS1v15(s.Key.rsa, hash, sum, sig) != nil {
			return bad("does not match the bundle (changed after it was signed?)")
		}
	default:
		return bad("signed with a %s key, which sealenv does not verify", s.Key.Type)
	}
	return nil
}

// Signer is who signed a bundle.
type Signer struct {
	// Principals are the principals of the allowed signers lines that
	// allow the key (patterns as the file writes them).
	Principals []string
	// Key is the signing key.
	Key *PublicKey
}

// String names the signer: "alice@example.com (ssh-ed25519 SHA256:...)".
func (s *Signer) String() string {
	key := s.Key.Type + " " + s.Key.Fingerprint()
	if len(s.Principals) == 0 {
		return key
	}
	return strings.Join(s.Principals, ",") + " (" + key + ")"
}

// Verify checks sig, the content of a bundle's signature file, against the
// bundle's exact bytes, and its key against allowed at time now. It returns
// the signer, or an error matching [ErrBadSignature] or [ErrNotAllowed].
func Verify(bundle, sig []byte, allowed *AllowedSigners, now time.Time) (*Signer, error) {
	s, err := Parse(sig)
	if err != nil {
		return nil, err
	}
	if err := s.Verify(bundle); err != nil {
		return nil, err
	}
	principals, err := allowed.Allow(s.Key, now)
	if err != nil {
		return nil, err
	}
	return &Signer{Principals: principals, Key: s.Key}, nil
}

// reader reads SSH wire format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errors.New("short")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uint32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) string() []byte {
	n := r.uint32()
	if r.err != nil || n > uint32(len(r.b)) {
		r.err = errors.New("short")
		return nil
	}
	return r.bytes(int(n))
}

// mpint reads a positive, minimally encoded multiple-precision integer.
func (r *reader) mpint() (*big.Int, error) {
	b := r.string()
	switch {
	case r.err != nil:
		return nil, r.err
	case len(b) == 0:
		return nil, errors.New("zero")
	case b[0]&0x80 != 0:
		return nil, errors.New("negative")
	case b[0] == 0 && (len(b) == 1 || b[1]&0x80 == 0):
		return nil, errors.New("not minimally encoded")
	}
	return new(big.Int).SetBytes(b), nil
}

// writer writes SSH wire format.
type writer struct{ b []byte }

func (w *writer) raw(p []byte) { w.b = append(w.b, p...) }
func (w *writer) string(p []byte) {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(p)))
	w.b = append(w.b, p...)
}

// printable shortens and sanitises untrusted text for a message.
func printable(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\ufffd' {
			return '?'
		}
		return r
	}, string(b))
}
