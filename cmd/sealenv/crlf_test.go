package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCRLFBundle: a dotenv bundle checked out by git with core.autocrlf
// (as on Windows) has CRLF line endings; show, check and the injector
// say so and name the fix, which then works.
func TestCRLFBundle(t *testing.T) {
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := mustGit(t, git)
	r := c.keygen("key.txt")
	c.env = append(env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	c.ok("API_TOKEN="+strongSecret(t)+"\n", "seal", "--env", "prod", "-i", "-")
	os.WriteFile(c.path(".gitignore"), []byte("key.txt\n"), 0o644)
	must("add", "-A")
	must("commit", "-q", "--no-verify", "-m", "base")
	os.Remove(c.path("prod.env"))
	must("-c", "core.autocrlf=true", "checkout", "--", "prod.env")
	if data, _ := os.ReadFile(c.path("prod.env")); !strings.Contains(string(data), "\r\n") {
		t.Skip("git did not convert the line endings")
	}
	c.fails("Windows line endings (CRLF)", "", "show", "prod.env")
	if res := c.run("", "check"); res.code != 1 || !strings.Contains(res.stdout, "CRLF") {
		t.Errorf("check: exit %d: %s", res.code, res.stdout)
	}
	res := c.runInjector("prod.env")
	if res.code != 125 || !strings.Contains(res.stderr, "CRLF") || !strings.Contains(res.stderr, `sed -i 's/\r$//'`) {
		t.Errorf("injector: exit %d: %s", res.code, res.stderr)
	}
	fix := exec.Command("sed", "-i", `s/\r$//`, c.path("prod.env"))
	if out, err := fix.CombinedOutput(); err != nil {
		t.Fatalf("the fix: %v: %s", err, out)
	}
	c.ok("", "show", "prod.env")
	if res := c.runInjector("prod.env"); res.code != 0 {
		t.Errorf("injector after the fix: exit %d: %s", res.code, res.stderr)
	}
}
