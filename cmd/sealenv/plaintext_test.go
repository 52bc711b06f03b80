package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestPlaintextValueBySopsRule: a value the real sops leaves unencrypted
// (--unencrypted-suffix) is named by adopt, which needs --allow-plaintext
// for it, and check reports it as plaintext-value (exit 1), with and
// without an identity, until the policy lists it under public:.
func TestPlaintextValueBySopsRule(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	keyed := append(append([]string{}, c.env...), "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	c.env = keyed
	host := secret(t, "host")
	enc := c.mustSops([]byte("TOKEN="+strongSecret(t)+"\nDB_HOST_plain="+host+"\n"), "encrypt", "--input-type", "dotenv", "--output-type", "dotenv",
		"--filename-override", "prod.env", "--unencrypted-suffix", "_plain", "--age", r)
	if !strings.Contains(string(enc), "DB_HOST_plain="+host) {
		t.Fatal("sops encrypted the value its rule should leave in plaintext")
	}
	os.WriteFile(c.path("prod.env"), enc, 0o644)
	policy := "version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: " + r + "}]}\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)

	res := c.fails("DB_HOST_plain is stored unencrypted", "", "adopt", "prod.env")
	if !strings.Contains(res.stderr, "sealenv adopt --allow-plaintext DB_HOST_plain prod.env") || strings.Contains(res.stderr, host) {
		t.Errorf("adopt's way forward: %s", res.stderr)
	}
	if data, _ := os.ReadFile(c.path("prod.env")); string(data) != string(enc) {
		t.Fatal("a refused adopt changed the bundle")
	}
	c.ok("", "adopt", "--allow-plaintext", "DB_HOST_plain", "prod.env")

	for _, args := range [][]string{{"check"}, {"check", "--no-identity"}} {
		res := c.run("", args...)
		if res.code != 1 || !strings.Contains(res.stdout, "plaintext-value: DB_HOST_plain is stored unencrypted") || strings.Contains(res.stdout, host) {
			t.Errorf("%v: exit %d:\n%s", args, res.code, res.stdout)
		}
		if strings.Contains(res.stdout, "TOKEN is stored") {
			t.Errorf("%v reports the encrypted TOKEN:\n%s", args, res.stdout)
		}
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"public: [DB_HOST_plain]\n"), 0o644)
	for _, args := range [][]string{{"check"}, {"check", "--no-identity"}} {
		if res := c.run("", args...); res.code != 0 {
			t.Errorf("%v with public: exit %d:\n%s", args, res.code, res.stdout)
		}
	}
	// With public: in the policy, adopt needs no flag for it.
	c.mustSops(nil, "set", "prod.env", `["DB_HOST_plain"]`, `"`+secret(t, "h2")+`"`)
	c.ok("", "adopt", "prod.env")
}

// TestScanStagedFindsDecryptedCopies: keyless scan --staged flags the
// decrypted copies of a bundle that people and editors leave beside it
// (prod.env~ and prod.env.orig by their names, a sops decrypt
// --output-type json copy by its keys), each with the command that removes it, and leaves alone a copy
// of the ciphertext and a template that shares one key name.
func TestScanStagedFindsDecryptedCopies(t *testing.T) {
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := mustGit(t, git)
	r := c.keygen("key.txt")
	keyed := append(append([]string{}, env...), "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	c.env = keyed
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: secrets/prod.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	c.ok("API_TOKEN="+strongSecret(t)+"\nDB_PASSWORD="+strongSecret(t)+"\n", "seal", "--env", "prod", "-i", "-")
	os.WriteFile(c.path(".gitignore"), []byte("key.txt\n"), 0o644)
	must("add", "-A")
	must("commit", "-q", "--no-verify", "-m", "base")

	plain := c.mustSops(nil, "decrypt", "secrets/prod.env")
	os.WriteFile(c.path("secrets/prod.env~"), plain, 0o644)
	os.WriteFile(c.path("prod.json"), c.mustSops(nil, "decrypt", "--output-type", "json", "secrets/prod.env"), 0o644)
	sealedCopy, _ := os.ReadFile(c.path("secrets/prod.env"))
	os.WriteFile(c.path("secrets/prod.env.bak"), sealedCopy, 0o644)
	os.WriteFile(c.path(".env.example"), []byte("API_TOKEN=\n"), 0o644)
	first, _, _ := strings.Cut(string(plain), "\n")
	os.WriteFile(c.path("secrets/prod.env.orig"), []byte(first+"\n"), 0o644) // a merge tool's copy, one key left
	must("add", "-f", "secrets/prod.env~", "prod.json", "secrets/prod.env.bak", ".env.example", "secrets/prod.env.orig")

	c.env = env // no identity: the CI and the hook hold no key
	res := c.run("", "scan", "--staged", "--format", "json")
	if res.code != 1 {
		t.Fatalf("scan --staged: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	var rep struct {
		Findings []struct{ Rule, Path, Message string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		if f.Rule == "decrypted-bundle-copy" {
			got[f.Path] = f.Message
		}
	}
	if !strings.Contains(got["secrets/prod.env~"], "by its name") || !strings.Contains(got["secrets/prod.env~"], "git rm -f -- secrets/prod.env~") {
		t.Errorf("prod.env~: %q", got["secrets/prod.env~"])
	}
	if !strings.Contains(got["prod.json"], "all 2 of its keys") {
		t.Errorf("prod.json: %q", got["prod.json"])
	}
	if msg := got["secrets/prod.env.orig"]; !strings.Contains(msg, "by its name:") {
		t.Errorf("prod.env.orig: %q", msg)
	}
	if len(got) != 3 {
		t.Errorf("want exactly the three plaintext copies, got %v", got)
	}
	for _, v := range strings.Split(string(plain), "\n") {
		if _, val, ok := strings.Cut(v, "="); ok && val != "" && strings.Contains(res.stdout+res.stderr, val) {
			t.Error("the scan printed a value")
		}
	}
}
