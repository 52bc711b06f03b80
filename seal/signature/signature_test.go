package signature_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal/signature"
	"github.com/sealenv/sealenv/seal/signing"
)

func bundleBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 300)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return append([]byte("API_TOKEN=ENC[AES256_GCM,data:"), b...)
}

func allowedOf(t *testing.T, lines ...string) *signature.AllowedSigners {
	t.Helper()
	a, err := signature.ParseAllowedSigners([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestInteropWithOpenSSH: for every key type sealenv verifies, a signature
// made by ssh-keygen -Y sign or by the hiddeco/sshsig library is accepted
// by this package, by ssh-keygen -Y verify and by the library, and names the
// signer's principal.
func TestInteropWithOpenSSH(t *testing.T) {
	t.Parallel()
	signtest.Keygen(t)
	now := time.Now()
	for _, typ := range []string{"ed25519", "rsa"} {
		dir := t.TempDir()
		k := signtest.NewKey(t, dir, "id_"+typ, typ)
		allowedPath := signtest.WriteAllowed(t, dir, "allowed_signers", k.Line("alice@example.com", `namespaces="`+signature.Namespace+`"`))
		allowed := allowedOf(t, k.Line("alice@example.com", `namespaces="`+signature.Namespace+`"`))
		data := bundleBytes(t)
		for signer, sig := range map[string][]byte{
			"ssh-keygen":      signtest.KeygenSign(t, k.Path, signature.Namespace, data),
			"hiddeco/sshsig":  k.Sign(t, signature.Namespace, data),
			"sealenv signing": signWithPackage(t, k.Path, data),
		} {
			t.Run(typ+"/"+signer, func(t *testing.T) {
				s, err := signature.Verify(data, sig, allowed, now)
				if err != nil {
					t.Fatalf("sealenv: %v", err)
				}
				if len(s.Principals) != 1 || s.Principals[0] != "alice@example.com" || s.Key.Fingerprint() != k.Fingerprint() {
					t.Errorf("signer = %v, want alice@example.com with %s", s, k.Fingerprint())
				}
				if err := signtest.KeygenVerify(t, allowedPath, "alice@example.com", signature.Namespace, sig, data); err != nil {
					t.Errorf("ssh-keygen -Y verify: %v", err)
				}
				lib, err := sshsig.Unarmor(sig)
				if err != nil {
					t.Fatal(err)
				}
				if err := sshsig.Verify(bytes.NewReader(data), lib, k.Signer.PublicKey(), lib.HashAlgorithm, signature.Namespace); err != nil {
					t.Errorf("hiddeco/sshsig: %v", err)
				}
				// One byte more, one byte changed: every verifier refuses.
				for _, changed := range [][]byte{append(bytes.Clone(data), '\n'), flip(data, len(data)/2)} {
					if _, err := signature.Verify(changed, sig, allowed, now); !errors.Is(err, signature.ErrBadSignature) {
						t.Errorf("changed bundle: %v, want a bad signature", err)
					}
					if signtest.KeygenVerify(t, allowedPath, "alice@example.com", signature.Namespace, sig, changed) == nil {
						t.Error("ssh-keygen accepted a changed bundle")
					}
				}
			})
		}
	}
}

// signWithPackage signs as sealenv does (package signing).
func signWithPackage(t *testing.T, path string, data []byte) []byte {
	t.Helper()
	k, err := signing.Find(signing.Lookup{Explicit: path, NoGit: true, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	sig, err := k.Sign(data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

// TestSecurityKeys: a FIDO key's signature (sk-ssh-ed25519) verifies here
// and in ssh-keygen; one made without user presence (no touch) is refused,
// as sshd refuses it by default.
func TestSecurityKeys(t *testing.T) {
	t.Parallel()
	signtest.Keygen(t)
	dir := t.TempDir()
	sk := signtest.NewSKKey(t)
	line := "ci@example.com " + sk.Public
	allowedPath := signtest.WriteAllowed(t, dir, "allowed_signers", line)
	data := bundleBytes(t)
	sig := signtest.Sign(t, sk, signature.Namespace, data)
	s, err := signature.Verify(data, sig, allowedOf(t, line), time.Now())
	if err != nil || s.Key.Type != signature.TypeSKEd25519 {
		t.Fatalf("sk signature: %v %v", s, err)
	}
	if err := signtest.KeygenVerify(t, allowedPath, "ci@example.com", signature.Namespace, sig, data); err != nil {
		t.Errorf("ssh-keygen refused the simulated security key's signature: %v", err)
	}
	if _, err := signature.Verify(flip(data, 3), sig, allowedOf(t, line), time.Now()); !errors.Is(err, signature.ErrBadSignature) {
		t.Errorf("changed bundle: %v", err)
	}
	sk.Flags = 0
	untouched := signtest.Sign(t, sk, signature.Namespace, data)
	if _, err := signature.Verify(data, untouched, allowedOf(t, line), time.Now()); !errors.Is(err, signature.ErrBadSignature) || !strings.Contains(err.Error(), "user presence") {
		t.Errorf("no user presence: %v, want refused", err)
	}
}

// TestRefusedSignatures: what sealenv refuses although ssh-keygen may
// accept it is documented; what both refuse is a forgery.
func TestRefusedSignatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := bundleBytes(t)
	ed := signtest.NewKey(t, dir, "ed", "ed25519")
	ec := signtest.NewKey(t, dir, "ec", "ecdsa")
	allowed := allowedOf(t, ed.Line("a", ""), ec.Line("b", ""))
	good := ed.Sign(t, signature.Namespace, data)
	for name, tc := range map[string]struct {
		sig  []byte
		want string
	}{
		"namespace file":        {ed.Sign(t, "file", data), `namespace "file"`},
		"namespace git":         {ed.Sign(t, "git", data), `namespace "git"`},
		"ecdsa key":             {ec.Sign(t, signature.Namespace, data), "ecdsa-sha2-nistp256 key, which sealenv does not verify"},
		"empty":                 {nil, "not an SSH signature"},
		"a PGP signature":       {[]byte("-----BEGIN PGP SIGNATURE-----\n\nwsBc\n-----END PGP SIGNATURE-----\n"), "not an SSH signature"},
		"text before the armor": {append([]byte("x\n"), good...), "not an SSH signature"},
		"text after the armor":  {append(bytes.Clone(good), "x\n"...), "malformed armor"},
		"truncated":             {good[:len(good)/2], "malformed armor"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signature.Verify(data, tc.sig, allowed, time.Now())
			if !errors.Is(err, signature.ErrBadSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a bad signature saying %q", err, tc.want)
			}
		})
	}
	// A signature of another bundle, by an allowed key, is not this
	// bundle's.
	other := ed.Sign(t, signature.Namespace, bundleBytes(t))
	if _, err := signature.Verify(data, other, allowed, time.Now()); !errors.Is(err, signature.ErrBadSignature) {
		t.Errorf("another bundle's signature: %v", err)
	}
}

// TestEveryByteOfTheSignature: changing any one byte of a signature file
// either breaks it or leaves a signature that verifies with the same key
// (white space of the armor); it never yields another signer.
func TestEveryByteOfTheSignature(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := signtest.NewKey(t, dir, "id", "ed25519")
	allowed := allowedOf(t, k.Line("a", ""))
	data := bundleBytes(t)
	sig := k.Sign(t, signature.Namespace, data)
	for i := range sig {
		for _, b := range []byte{sig[i] ^ 0x01, sig[i] ^ 0x20, '\n', 'A'} {
			if b == sig[i] {
				continue
			}
			changed := bytes.Clone(sig)
			changed[i] = b
			s, err := signature.Verify(data, changed, allowed, time.Now())
			if err == nil && s.Key.Fingerprint() != k.Fingerprint() {
				t.Fatalf("byte %d changed to %q: verified as another signer", i, b)
			}
			if err != nil && !errors.Is(err, signature.ErrBadSignature) {
				t.Fatalf("byte %d: %v is not a bad signature", i, err)
			}
		}
	}
}

// FuzzVerify: whatever this package accepts, hiddeco/sshsig accepts too,
// with the same key.
func FuzzVerify(f *testing.F) {
	k := signtest.NewKey(f, f.TempDir(), "id", "ed25519")
	sk := signtest.NewSKKey(f)
	data := []byte("K=ENC[AES256_GCM,data:x]\n")
	f.Add(k.Sign(f, signature.Namespace, data))
	f.Add(signtest.Sign(f, sk, signature.Namespace, data))
	allowed, err := signature.ParseAllowedSigners([]byte(k.Line("a", "") + "\n" + "b " + sk.Public))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig []byte) {
		s, err := signature.Verify(data, sig, allowed, time.Now())
		if err != nil {
			return
		}
		lib, err := sshsig.Unarmor(sig)
		if err != nil {
			t.Fatalf("accepted, but the library cannot read it: %v", err)
		}
		pub, err := ssh.ParsePublicKey(s.Key.Blob)
		if err != nil {
			t.Fatal(err)
		}
		if err := sshsig.Verify(bytes.NewReader(data), lib, pub, lib.HashAlgorithm, signature.Namespace); err != nil {
			t.Fatalf("accepted, but the library refuses it: %v", err)
		}
	})
}

// TestPublicKeys: keys parse canonically; what is not a key is refused
// without echoing it.
func TestPublicKeys(t *testing.T) {
	t.Parallel()
	k := signtest.NewKey(t, t.TempDir(), "id", "ed25519")
	p, err := signature.ParseAuthorizedKey(k.Public + " comment here")
	if err != nil || p.String() != k.Public || p.Fingerprint() != k.Fingerprint() {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{"", "ssh-ed25519", "ssh-ed25519 !!!", "ssh-rsa " + strings.Fields(k.Public)[1], "age1abc def"} {
		if _, err := signature.ParseAuthorizedKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	small := signtest.NewKey(t, t.TempDir(), "rsa", "rsa")
	if p, err := signature.ParseAuthorizedKey(small.Public); err != nil || !p.Supported() {
		t.Errorf("3072-bit RSA: %v", err)
	}
}
