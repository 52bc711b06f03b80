package main

import (
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
