package main

import (
	"os"
	"strings"
	"testing"
)

// TestShamirOneKey: a bundle the real sops split into 3 key groups with
// shamir_threshold 2, opened with the key of one group, says "needs 2 of 3
// key groups" and which group the key opens, in the CLI and the injector;
// keys of two groups in one identity file open it.
func TestShamirOneKey(t *testing.T) {
	c := newParallelCLI(t)
	k1, k2, k3 := c.keygen("k1.txt"), c.keygen("k2.txt"), c.keygen("k3.txt")
	os.WriteFile(c.path(".sops.yaml"), []byte("creation_rules:\n  - path_regex: shared\\.env$\n    shamir_threshold: 2\n    key_groups:\n"+
		"      - age: ["+k1+"]\n      - age: ["+k2+"]\n      - age: ["+k3+"]\n"), 0o644)
	c.env = append(c.env, "SOPS_AGE_KEY_FILE="+c.path("k1.txt"))
	os.WriteFile(c.path("shared.env"), c.mustSops([]byte("API_TOKEN="+strongSecret(t)+"\n"), "encrypt", "--input-type", "dotenv", "--output-type", "dotenv", "--filename-override", "shared.env"), 0o644)
	os.Remove(c.path(".sops.yaml"))

	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("k2.txt"))
	res := c.fails("needs 2 of 3 key groups", "", "reveal", "shared.env")
	if !strings.Contains(res.stderr, "open 1 (group 2)") {
		t.Errorf("reveal does not say which group the key opens: %s", res.stderr)
	}
	c.fails("needs 2 of 3 key groups", "x", "set", "shared.env", "OTHER")
	if res := c.runInjector("shared.env"); res.code != 125 || !strings.Contains(res.stderr, "needs 2 of 3 key groups") {
		t.Errorf("injector: exit %d: %s", res.code, res.stderr)
	}
	k13 := append(mustRead(t, c.path("k1.txt")), mustRead(t, c.path("k3.txt"))...)
	os.WriteFile(c.path("k13.txt"), k13, 0o600)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("k13.txt"))
	if res := c.ok("", "reveal", "shared.env"); !strings.Contains(res.stdout, "API_TOKEN=") {
		t.Errorf("reveal with two groups' keys: %q", res.stdout)
	}
}
