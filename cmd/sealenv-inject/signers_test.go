package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

// TestSignedBundles: with an allowed signers file, a bundle signed by an
// allowed key runs and the access line names its signer; the same bundle
// re-encrypted by someone with only the public recipient (a forged, valid
// SOPS file) exits 125, unsigned, with the genuine signature, or signed by
// the forger; and all of it before any identity is read. Without the file,
// the behaviour is today's.
func TestSignedBundles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	alice := signtest.NewKey(t, dir, "alice", "ed25519")
	mallory := signtest.NewKey(t, dir, "mallory", "ed25519")
	allowed := signtest.WriteAllowed(t, dir, "allowed_signers", alice.Line("alice@example.com", `namespaces="`+signature.Namespace+`"`))
	genuine, _ := os.ReadFile(f.bundle)
	genuineSig := alice.Sign(t, signature.Namespace, genuine)
	os.WriteFile(signature.Path(f.bundle), genuineSig, 0o644)
	withKey := env(seal.EnvAgeKey + "=" + f.key.Text)

	r := runInject(t, withKey, []string{"--bundle", f.bundle, "--signers", allowed}, "exit", "0")
	if r.code != 0 {
		t.Fatalf("signed by alice: exit %d: %s", r.code, r.stderr)
	}
	b := accessLine(t, r.stderr)["bundles"].([]any)[0].(map[string]any)
	signer, _ := b["signer"].(map[string]any)
	if signer == nil || signer["key"] != "ssh-ed25519 "+alice.Fingerprint() || signer["principals"].([]any)[0] != "alice@example.com" {
		t.Errorf("access line signer = %v", b["signer"])
	}

	// The forger knows the recipient, nothing else.
	forged := injecttest.Write(t, t.TempDir(), "prod.env", []injecttest.Key{{Recipient: f.key.Recipient}},
		injecttest.Entry{Name: "DB_PASSWORD", Value: injecttest.Value(t, "attacker-")})
	forgedData, _ := os.ReadFile(forged)
	for _, tc := range []struct {
		name string
		sig  []byte // nil: no signature file
		want string
	}{
		{"unsigned", nil, "unsigned: no signature " + forged + ".sig, and the allowed signers file " + allowed + " requires one"},
		{"the genuine signature", genuineSig, "bad signature: does not match the bundle"},
		{"signed by the forger", mallory.Sign(t, signature.Namespace, forgedData), "signer not allowed: ssh-ed25519 " + mallory.Fingerprint() + " is not an allowed signer (" + allowed + ")"},
		{"signed for git", alice.Sign(t, "git", forgedData), `bad signature: made for namespace "git"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(signature.Path(forged))
			if tc.sig != nil {
				os.WriteFile(signature.Path(forged), tc.sig, 0o644)
			}
			// With the identity, and with none at all: the signature is
			// checked before any identity is looked for.
			for _, environ := range [][]string{withKey, env()} {
				r := runInject(t, environ, []string{"--bundle", forged, "--signers", allowed}, "exit", "0")
				if r.code != 125 {
					t.Fatalf("exit %d, want 125: %s", r.code, r.stderr)
				}
				if want := "sealenv-inject: error: " + forged + ": " + tc.want; !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("stderr %q, want one line starting %q", r.stderr, want)
				}
			}
			// Without an allowed signers file: today's behaviour.
			if r := runInject(t, withKey, []string{"--bundle", forged}, "exit", "0"); r.code != 0 {
				t.Errorf("without --signers: exit %d: %s", r.code, r.stderr)
			}
		})
	}
}

// TestSignersFileProblems: a missing, malformed or empty allowed signers
// file stops the start (exit 125), naming the file and the line.
func TestSignersFileProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	k := signtest.NewKey(t, dir, "k", "ed25519")
	data, _ := os.ReadFile(f.bundle)
	os.WriteFile(signature.Path(f.bundle), k.Sign(t, signature.Namespace, data), 0o644)
	withKey := env(seal.EnvAgeKey + "=" + f.key.Text)
	for name, tc := range map[string]struct{ content, want string }{
		"missing":   {"", "--signers " + filepath.Join(dir, "missing") + ": no such file or directory"},
		"malformed": {"# ok\nalice bogus-option " + k.Public + "\n", "malformed allowed signers: line 2: unknown option"},
		"empty":     {"# nobody\n", "lists no signer, so no bundle could be allowed"},
	} {
		path := filepath.Join(dir, name)
		if name != "missing" {
			os.WriteFile(path, []byte(tc.content), 0o644)
		}
		r := runInject(t, withKey, []string{"--bundle", f.bundle, "--signers", path}, "exit", "0")
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want 125 and %q", name, r.code, r.stderr, tc.want)
		}
	}
	// Several bundles: each one is checked.
	second := injecttest.Write(t, t.TempDir(), "b.env", []injecttest.Key{f.key}, injecttest.Entry{Name: "OTHER", Value: injecttest.Value(t, "o-")})
	ok := signtest.WriteAllowed(t, dir, "ok", k.Line("ci", ""))
	r := runInject(t, withKey, []string{"--bundle", f.bundle, "--bundle", second, "--signers", ok}, "exit", "0")
	if r.code != 125 || !strings.Contains(r.stderr, second+": unsigned") {
		t.Errorf("second bundle unsigned: exit %d: %s", r.code, r.stderr)
	}
	sd, _ := os.ReadFile(second)
	os.WriteFile(signature.Path(second), k.Sign(t, signature.Namespace, sd), 0o644)
	if r := runInject(t, withKey, []string{"--bundle", f.bundle, "--bundle", second, "--signers", ok}, "exit", "0"); r.code != 0 {
		t.Errorf("both signed: exit %d: %s", r.code, r.stderr)
	}
}
