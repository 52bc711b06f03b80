package main

import (
	"os"
	"strings"
	"testing"
)

// TestNameAddedBySops: a key that is not an environment variable name,
// added with the real sops, stops show and the injector with the two
// commands that fix it; set --rename and unset then work, and the bundle
// runs again with the value kept under the new name.
func TestNameAddedBySops(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	c.ok("API_TOKEN="+strongSecret(t)+"\n", "seal", "--env", "prod", "-i", "-")
	moved := strongSecret(t)
	c.mustSops(nil, "set", "prod.env", `["db-password"]`, `"`+moved+`"`)
	c.mustSops(nil, "set", "prod.env", `["old-flag"]`, `"`+strongSecret(t)+`"`)

	res := c.fails(`key "db-password" is not a valid environment variable name`, "", "show", "prod.env")
	if !strings.Contains(res.stderr, `sealenv set --rename "db-password" BUNDLE NEW_NAME`) || !strings.Contains(res.stderr, `sealenv unset BUNDLE "db-password"`) {
		t.Errorf("show names no way forward: %s", res.stderr)
	}
	if res := c.runInjector("prod.env"); res.code != 125 || !strings.Contains(res.stderr, "--rename") {
		t.Errorf("injector: exit %d: %s", res.code, res.stderr)
	}
	c.fails("holds API_TOKEN already", "", "set", "--rename", "db-password", "prod.env", "API_TOKEN")
	c.fails("no such key", "", "set", "--rename", "no-such-key", "prod.env", "OTHER")
	c.ok("", "set", "--rename", "db-password", "prod.env", "DB_PASSWORD")
	c.ok("", "unset", "prod.env", "old-flag")
	res = c.runInjector("prod.env")
	if res.code != 0 || !strings.Contains(res.stdout, "\nDB_PASSWORD="+moved+"\n") || strings.Contains(res.stdout, "old-flag") {
		t.Fatalf("injector after the fix: exit %d: %s", res.code, res.stderr)
	}
	if res := c.run("", "check"); res.code != 0 {
		t.Errorf("check after the fix: exit %d: %s", res.code, res.stdout)
	}
	if strings.Contains(c.mustSopsText(t, "prod.env"), "db-password") {
		t.Error("the old name is still in the bundle")
	}
}

// mustSopsText is sops decrypt's output.
func (c *runner) mustSopsText(t *testing.T, bundle string) string {
	t.Helper()
	return string(c.mustSops(nil, "decrypt", bundle))
}
