package policies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/signature"
)

// signedPolicy writes a policy whose prod environment names signers (YAML
// list items) and whose staging names none.
func signedPolicy(f *fixture, signers string) *policies.Policy {
	f.T.Helper()
	r := f.Alice.Recipient().String()
	return f.WritePolicy("version: 1\nenvironments:\n" +
		"  - name: prod\n    bundle: secrets/prod.env\n    recipients: [{key: " + r + "}]\n    signers:\n" + signers +
		"  - name: staging\n    bundle: secrets/staging.env\n    recipients: [{key: " + r + "}]\n")
}

func sign(t *testing.T, k *signtest.Key, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(signature.Path(path), k.Sign(t, signature.Namespace, data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckSignatures: with signers in the policy, check reports an
// unsigned bundle, a bundle changed after it was signed, and a bundle
// signed by a key the environment does not allow; staging, without
// signers, is never asked for a signature.
func TestCheckSignatures(t *testing.T) {
	f := policytest.New(t)
	keys := t.TempDir()
	alice := signtest.NewKey(t, keys, "alice", "ed25519")
	mallory := signtest.NewKey(t, keys, "mallory", "ed25519")
	p := signedPolicy(f, "      - {principal: alice@example.com, key: "+alice.Public+"}\n")
	f.Bundle("prod", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)

	vs := check(f, p, f.Alice)
	if got := rules(vs); got != "prod/unsigned/" {
		t.Fatalf("unsigned: %s", got)
	}
	if msg := vs[0].Message; !strings.Contains(msg, "sealenv sign secrets/prod.env") {
		t.Errorf("message %q names no fix", msg)
	}

	sign(t, alice, f.Path("prod"))
	if vs := check(f, p, f.Alice); len(vs) != 0 {
		t.Fatalf("signed by alice: %s", rules(vs))
	}
	if vs := check(f, p); len(vs) != 0 {
		t.Fatalf("signed by alice, checked without a key: %s", rules(vs))
	}

	// Anyone who knows the recipient can write a valid bundle: a forgery,
	// with alice's signature of the genuine bundle left next to it.
	forged, err := author.New(seal.FormatDotenv, []string{f.Alice.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	forged.Now = f.Clock
	if err := forged.Set("API_TOKEN", []byte(policytest.Random())); err != nil {
		t.Fatal(err)
	}
	salt, err := fingerprint.NewSalt() // a forger with sealenv records fingerprints too
	if err != nil {
		t.Fatal(err)
	}
	forged.Fingerprint(author.Fingerprinter{Salt: salt.String(), Make: fingerprint.Maker(salt)})
	out, err := forged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f.Rewrite("prod", func([]byte) []byte { return out })
	vs = check(f, p, f.Alice)
	if got := rules(vs); got != "prod/bad-signature/" || !strings.Contains(vs[0].Message, "does not match the bundle") {
		t.Fatalf("forged bundle, genuine signature: %s %v", got, vs)
	}
	// Signed by the forger's own key.
	sign(t, mallory, f.Path("prod"))
	vs = check(f, p, f.Alice)
	if got := rules(vs); got != "prod/signer-not-allowed/" || !strings.Contains(vs[0].Message, mallory.Fingerprint()) {
		t.Fatalf("signed by mallory: %s %v", got, vs)
	}
}

// TestSignersFile: an allowed signers file (the one git uses for commit
// signatures, say) counts with its options: a line limited to git's
// namespace does not allow bundle signatures.
func TestSignersFile(t *testing.T) {
	f := policytest.New(t)
	keys := t.TempDir()
	alice := signtest.NewKey(t, keys, "alice", "ed25519")
	bob := signtest.NewKey(t, keys, "bob", "rsa")
	os.WriteFile(filepath.Join(f.Dir, "allowed_signers"), []byte(
		"# the team's signers\n"+alice.Line("alice@example.com", `namespaces="git"`)+"\n"+bob.Line("bob@example.com", "")+"\n"), 0o644)
	p := signedPolicy(f, "      - file: allowed_signers\n      - {principal: ci@example.com, key: "+alice.Public+"}\n")
	f.Bundle("prod", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	sign(t, bob, f.Path("prod"))
	if vs := check(f, p); len(vs) != 0 {
		t.Fatalf("signed by bob: %s", rules(vs))
	}
	env, _ := p.Env("prod")
	file := string(env.AllowedSignersFile())
	want := "# from allowed_signers\n# the team's signers\n" + alice.Line("alice@example.com", `namespaces="git"`) + "\n" + bob.Line("bob@example.com", "") + "\n" +
		`ci@example.com namespaces="bundle@sealenv.github.io" ` + alice.Public + "\n"
	if file != want {
		t.Errorf("allowed signers file:\n%s\nwant:\n%s", file, want)
	}
	// The file the injector gets is one ssh-keygen reads the same way.
	signtest.Keygen(t)
	path := signtest.WriteAllowed(t, t.TempDir(), "allowed_signers", strings.TrimSuffix(file, "\n"))
	data, _ := os.ReadFile(f.Path("prod"))
	sig, _ := os.ReadFile(signature.Path(f.Path("prod")))
	if err := signtest.KeygenVerify(t, path, "bob@example.com", signature.Namespace, sig, data); err != nil {
		t.Errorf("ssh-keygen: %v", err)
	}
	// alice signs as ci@example.com (the policy's own line), not through
	// the git-only line.
	sign(t, alice, f.Path("prod"))
	if vs := check(f, p); len(vs) != 0 {
		t.Fatalf("signed by alice as ci: %s", rules(vs))
	}
	pk, _ := signature.ParseAuthorizedKey(alice.Public)
	if principals, err := env.AllowedSigners().Allow(pk, f.Now); err != nil || strings.Join(principals, ",") != "ci@example.com" {
		t.Errorf("alice is allowed as %q (%v), want the principal of the line that allows bundles", principals, err)
	}
}

// TestSignerPrivateKeyRefused: a private key pasted where the public key
// belongs is refused without being echoed.
func TestSignerPrivateKeyRefused(t *testing.T) {
	f := policytest.New(t)
	k := signtest.NewKey(t, t.TempDir(), "id", "ed25519")
	text, err := os.ReadFile(k.Path)
	if err != nil {
		t.Fatal(err)
	}
	var indented strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		indented.WriteString("          " + line + "\n")
	}
	r := f.Alice.Recipient().String()
	path := filepath.Join(f.Dir, policies.FileName)
	os.WriteFile(path, []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: p.env\n    recipients: [{key: "+r+"}]\n    signers:\n      - principal: alice\n        key: |\n"+indented.String()), 0o644)
	_, err = policies.Load(path)
	if err == nil || !strings.HasSuffix(err.Error(), `:8: environment "prod": signer "alice": key is a private key; give its public half (the .pub file)`) {
		t.Fatalf("got %v", err)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if len(line) > 20 && strings.Contains(err.Error(), line) {
			t.Fatal("the error echoes the private key")
		}
	}
}
