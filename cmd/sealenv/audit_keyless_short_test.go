package main

import (
	"os"
	"strings"
	"testing"
)

// TestKeylessAllowShort: without an identity, a value too guessable to
// fingerprint is not searched; the policy's allow_short for its key
// accepts that (listed in short_accepted, exit 0), while another weak key
// still makes the audit incomplete (exit 2) with the way forward, and
// --allow-short alone accepts nothing keyless.
func TestKeylessAllowShort(t *testing.T) {
	c := newParallelCLI(t)
	me := c.keygen("me.txt")
	keyed := append(append([]string{}, c.env...), "SEALENV_AGE_KEY_FILE="+c.path("me.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    allow_short: [PIN]\n    recipients: [{key: "+me+"}]\n"), 0o644)
	c.env = keyed
	c.ok("API_TOKEN="+strongSecret(t)+"\nPIN=4821\n", "seal", "--env", "prod", "-i", "-")
	writeTestImage(t, c.path("clean.tar"), nil, map[string]string{"etc/motd": "hello"})
	c.env = keyed[:len(keyed)-1]

	r := c.ok("", "audit", "image", "--format", "json", "clean.tar")
	if !strings.Contains(r.stdout, `"short_accepted": [`) || !strings.Contains(r.stdout, `"PIN"`) || !strings.Contains(r.stdout, `"complete": true`) {
		t.Fatalf("allow_short does not accept PIN keyless: %s", r.stdout)
	}

	c.env = keyed
	c.ok("summer-2024\n", "set", "secrets/prod.env", "DB_PASSWORD")
	c.env = keyed[:len(keyed)-1]
	for _, args := range [][]string{{"audit", "image", "clean.tar"}, {"audit", "image", "--allow-short", "clean.tar"}} {
		r = c.run("", args...)
		if r.code != 2 || !strings.Contains(r.stdout, "(too guessable to fingerprint): DB_PASSWORD;") || strings.Contains(r.stdout, "fingerprint): DB_PASSWORD, PIN") || !strings.Contains(r.stdout, "allow_short") {
			t.Fatalf("%v: exit %d: %s %s", args, r.code, r.stdout, r.stderr)
		}
	}
}
