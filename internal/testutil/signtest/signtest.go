// Package signtest makes SSH signing keys, signatures and allowed signers
// files for tests, with keys generated at test time, and runs OpenSSH's
// ssh-keygen (the peer bundle signatures must stay compatible with). Only
// tests import it.
package signtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/sealenv/sealenv/seal/signature"
)

// Key is a signing key: an unencrypted private key file (0600) and its .pub
// next to it, in dir.
type Key struct {
	Path    string // the private key file
	PubPath string // Path + ".pub"
	Public  string // "TYPE BASE64"
	Signer  ssh.Signer
}

// NewKey generates a key of type "ed25519", "rsa" (3072 bits) or "ecdsa"
// (P-256) and writes it to dir/name and dir/name.pub.
func NewKey(t testing.TB, dir, name, typ string) *Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch typ {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("signtest: unknown key type %q", typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "signtest")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	k := &Key{Path: filepath.Join(dir, name), Signer: signer}
	k.PubPath = k.Path + ".pub"
	k.Public = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err := os.WriteFile(k.Path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PubPath, []byte(k.Public+" signtest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l prints it.
func (k *Key) Fingerprint() string { return ssh.FingerprintSHA256(k.Signer.PublicKey()) }

// Sign signs data in namespace with the hiddeco/sshsig library (SHA-512),
// armored.
func (k *Key) Sign(t testing.TB, namespace string, data []byte) []byte {
	t.Helper()
	return Sign(t, k.Signer, namespace, data)
}

// Sign signs data with any ssh.Signer.
func Sign(t testing.TB, s ssh.Signer, namespace string, data []byte) []byte {
	t.Helper()
	sig, err := sshsig.Sign(bytes.NewReader(data), s, sshsig.HashSHA512, namespace)
	if err != nil {
		t.Fatal(err)
	}
	return sshsig.Armor(sig)
}

// Line is an allowed signers line for k, with options (may be "").
func (k *Key) Line(principal, options string) string {
	if options == "" {
		return principal + " " + k.Public
	}
	return principal + " " + options + " " + k.Public
}

// SKKey is a FIDO security key (sk-ssh-ed25519@openssh.com) simulated in
// software: its signatures are exactly what an authenticator returns, with
// the flags the test chooses. It implements ssh.Signer.
type SKKey struct {
	priv    ed25519.PrivateKey
	pub     ssh.PublicKey
	Flags   byte // 0x01: user present
	Counter uint32
	Public  string
}

// NewSKKey makes a simulated security key for application "ssh:".
func NewSKKey(t testing.TB) *SKKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, s := range [][]byte{[]byte(signature.TypeSKEd25519), pub, []byte("ssh:")} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(s)))
		blob = append(blob, s...)
	}
	p, err := ssh.ParsePublicKey(blob)
	if err != nil {
		t.Fatal(err)
	}
	return &SKKey{priv: priv, pub: p, Flags: 0x01, Counter: 7, Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p)))}
}

// PublicKey implements ssh.Signer.
func (k *SKKey) PublicKey() ssh.PublicKey { return k.pub }

// Sign implements ssh.Signer as an authenticator does (OpenSSH PROTOCOL.u2f).
func (k *SKKey) Sign(_ io.Reader, data []byte) (*ssh.Signature, error) {
	app := sha256.Sum256([]byte("ssh:"))
	msg := sha256.Sum256(data)
	rest := binary.BigEndian.AppendUint32([]byte{k.Flags}, k.Counter)
	signed := append(append(app[:], rest...), msg[:]...)
	return &ssh.Signature{Format: signature.TypeSKEd25519, Blob: ed25519.Sign(k.priv, signed), Rest: rest}, nil
}

// Keygen returns the ssh-keygen binary, or skips t; under
// SEALENV_REQUIRE_PEERS it fails instead (scripts/setup-openssh.sh installs
// it).
func Keygen(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
			t.Fatal("ssh-keygen not found (SEALENV_REQUIRE_PEERS forbids skipping; run scripts/setup-openssh.sh)")
		}
		t.Skip("ssh-keygen not found")
	}
	return p
}

// KeygenSign signs data with `ssh-keygen -Y sign` and the key file.
func KeygenSign(t testing.TB, key, namespace string, data []byte) []byte {
	t.Helper()
	cmd := exec.Command(Keygen(t), "-Y", "sign", "-f", key, "-n", namespace)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v: %s", err, stderr.String())
	}
	return out
}

// KeygenVerify runs `ssh-keygen -Y verify` on data with the signature and
// the allowed signers file, for principal, and returns nil when it accepts.
func KeygenVerify(t testing.TB, allowed, principal, namespace string, sig, data []byte) error {
	t.Helper()
	dir := t.TempDir()
	sigPath := filepath.Join(dir, "data.sig")
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Keygen(t), "-Y", "verify", "-f", allowed, "-I", principal, "-n", namespace, "-s", sigPath)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)))
	}
	return nil
}

// KeygenFindPrincipals runs `ssh-keygen -Y find-principals` for the
// signature and returns the principals it prints, one line joined by ",".
func KeygenFindPrincipals(t testing.TB, allowed string, sig []byte) (string, error) {
	t.Helper()
	sigPath := filepath.Join(t.TempDir(), "data.sig")
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(Keygen(t), "-Y", "find-principals", "-f", allowed, "-s", sigPath).CombinedOutput()
	if err != nil {
		return "", errors.New(strings.TrimSpace(string(out)))
	}
	return strings.Join(strings.Fields(string(out)), ","), nil
}

// WriteAllowed writes an allowed signers file of lines to dir/name.
func WriteAllowed(t testing.TB, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
