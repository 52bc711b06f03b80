package identities_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/identities"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeKey(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// recipientOf returns the recipient an identity file unwraps, by round trip.
func unwraps(t *testing.T, ids []age.Identity, r age.Recipient) bool {
	t.Helper()
	var buf strings.Builder
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	_, err = age.Decrypt(strings.NewReader(buf.String()), ids...)
	return err == nil
}

func TestFindIdentitiesOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mk := func() *age.X25519Identity { id, _ := age.GenerateX25519Identity(); return id }
	flag, sealKey, sealFile, sopsKey, sopsFile, def := mk(), mk(), mk(), mk(), mk(), mk()
	files := map[string]string{
		"flag": writeKey(t, dir, "flag.txt", flag.String()+"\n"),
		"seal": writeKey(t, dir, "seal.txt", "# comment\n\n"+sealFile.String()+"\n"),
		"sops": writeKey(t, dir, "sops.txt", sopsFile.String()),
		"def":  writeKey(t, dir, "keys.txt", def.String()),
	}
	full := map[string]string{
		seal.EnvAgeKey: sealKey.String(), seal.EnvAgeKeyFile: files["seal"],
		seal.EnvSopsAgeKey: sopsKey.String() + " " + mk().String(), seal.EnvSopsAgeKeyFile: files["sops"],
	}
	steps := []struct {
		drop    string // env var removed before this step
		file    string
		want    *age.X25519Identity
		source  string
		fromEnv bool
	}{
		{file: files["flag"], want: flag, source: "--identity"},
		{want: sealKey, source: seal.EnvAgeKey, fromEnv: true},
		{drop: seal.EnvAgeKey, want: sealFile, source: seal.EnvAgeKeyFile},
		{drop: seal.EnvAgeKeyFile, want: sopsKey, source: seal.EnvSopsAgeKey, fromEnv: true},
		{drop: seal.EnvSopsAgeKey, want: sopsFile, source: seal.EnvSopsAgeKeyFile},
		{drop: seal.EnvSopsAgeKeyFile, want: def, source: files["def"]},
	}
	for _, s := range steps {
		if s.drop != "" {
			delete(full, s.drop)
		}
		found, err := identities.Find(seal.IdentityLookup{File: s.file, Getenv: env(full), Defaults: []string{filepath.Join(dir, "missing"), files["def"]}}, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.source, err)
		}
		if !strings.HasPrefix(found.Source, s.source) || found.FromEnv != s.fromEnv {
			t.Errorf("source %q fromEnv=%v, want %q fromEnv=%v", found.Source, found.FromEnv, s.source, s.fromEnv)
		}
		if !unwraps(t, found.Identities, s.want.Recipient()) {
			t.Errorf("%s: wrong identity found", s.source)
		}
	}
	if _, err := identities.Find(seal.IdentityLookup{Getenv: env(nil)}, nil); !errors.Is(err, seal.ErrNoIdentity) {
		t.Errorf("nothing configured: %v", err)
	}
}

func TestParseIdentitiesKinds(t *testing.T) {
	t.Parallel()
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identities.Parse([]byte(pq.String()+"\n"), nil)
	if err != nil || !unwraps(t, ids, pq.Recipient()) {
		t.Fatalf("post-quantum identity: %v", err)
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, priv := range map[string]any{"ssh-ed25519": edPriv, "ssh-rsa": rsaPriv} {
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		signer, _ := ssh.NewSignerFromKey(priv)
		r, err := agessh.ParseRecipient(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := identities.Parse(pem.EncodeToMemory(block), nil)
		if err != nil || !unwraps(t, ids, r) {
			t.Errorf("%s: %v", name, err)
		}
		enc, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
		if _, err := identities.Parse(pem.EncodeToMemory(enc), nil); err == nil || !strings.Contains(err.Error(), "passphrase") {
			t.Errorf("%s with passphrase: %v", name, err)
		}
	}
	x, _ := age.GenerateX25519Identity()
	bad := x.String()[:40] + "!" + x.String()[41:]
	_, err = identities.Parse([]byte("# c\n\n"+bad+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("malformed identity: %v", err)
	}
	if strings.Contains(err.Error(), x.String()[20:40]) {
		t.Fatal("error message contains key material")
	}
	if _, err := identities.Parse([]byte("# only a comment\n"), nil); err == nil {
		t.Fatal("no identities accepted")
	}
}
