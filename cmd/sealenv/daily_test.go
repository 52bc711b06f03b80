package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The tests of issue 21: daily use that never loses or bends a value. Each
// runs the real binary in directories it owns, in parallel.

// newParallelCLI is newCLI for a test that owns its directories.
func newParallelCLI(t *testing.T) *runner {
	t.Parallel()
	return newCLI(t)
}

// TestKeysFileInVariable: a whole age keys.txt, as sealenv keygen and
// age-keygen write it (comment lines, several keys, the one that opens the
// bundle last), in SOPS_AGE_KEY or SEALENV_AGE_KEY works for every command
// that decrypts and for the injector, as it does for sops.
func TestKeysFileInVariable(t *testing.T) {
	c := newParallelCLI(t)
	c.keygen("other.txt")
	r := c.keygen("key.txt")
	other, _ := os.ReadFile(c.path("other.txt"))
	key, _ := os.ReadFile(c.path("key.txt"))
	keys := string(other) + "\n" + string(key)
	if !strings.Contains(keys, "# created:") || !strings.Contains(keys, "# public key:") {
		t.Fatalf("keygen wrote no comment lines: the test proves nothing")
	}
	v := secret(t, "v")
	c.ok("A="+v+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: dev, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	os.WriteFile(c.path("Dockerfile"), []byte("FROM scratch\n"), 0o644)
	base := c.env
	for _, variable := range []string{"SOPS_AGE_KEY", "SEALENV_AGE_KEY"} {
		c.env = append(append([]string{}, base...), variable+"="+keys)
		if got := c.ok("", "reveal", "b.env", "A").stdout; got != v {
			t.Fatalf("%s: reveal gave %d bytes, want the sealed value", variable, len(got))
		}
		c.ok(secret(t, "w")+"\n", "set", "b.env", "B")
		c.ok("", "rotate", "b.env", "B")
		if res := c.ok("", "check"); !strings.Contains(res.stdout, "0 errors") {
			t.Errorf("%s: check: %s", variable, res.stdout)
		}
		if res := c.run("", "audit", "dockerfile", "Dockerfile", "--bundle", "b.env"); res.code != 0 {
			t.Errorf("%s: audit dockerfile: exit %d: %s", variable, res.code, res.stderr)
		}
		if got := c.ok("", "inject", "--no-access-log", "--bundle", "b.env", "--", "printenv", "A").stdout; got != v+"\n" {
			t.Errorf("%s: sealenv inject gave %q", variable, strings.ReplaceAll(got, v, "<v>"))
		}
		cmd := exec.Command(injectorBinary(t), "--no-access-log", "--bundle", "b.env", "--", "printenv", "A")
		cmd.Dir = c.dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
		if res := c.result(cmd); res.code != 0 || res.stdout != v+"\n" {
			t.Errorf("%s: sealenv-inject: exit %d: %s", variable, res.code, res.stderr)
		}
	}
	// sops reads the same variable the same way: the reference.
	c.env = append(append([]string{}, base...), "SOPS_AGE_KEY="+keys)
	if out, err := c.sops(nil, "decrypt", "b.env"); err != nil || !strings.Contains(string(out), "A="+v) {
		t.Errorf("sops decrypt with the same SOPS_AGE_KEY: %v", err)
	}
}
