package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRemovedRecipientGetsNothingNew: Bob leaves; his key is dropped from
// sealenv.yaml, and someone writes a value before anyone ran rekey --all.
// Every write (set, unset, rotate, rotate --due, edit, seal over the
// bundle) refuses, names rekey --all and changes nothing; after rekey
// --all, a fresh value is written and Bob's real age key opens nothing,
// neither through sealenv nor through the sops CLI.
func TestRemovedRecipientGetsNothingNew(t *testing.T) {
	c := newParallelCLI(t)
	alice, bob := c.keygen("alice.txt"), c.keygen("bob.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	policy := func(recipients string) {
		t.Helper()
		if err := os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: ["+recipients+"]}\n"+
			"keys:\n  TOKEN: {max_age: 1ns, generator: {alphabet: hex}}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	policy("{key: " + alice + ", owner: alice}, {key: " + bob + ", owner: bob}")
	c.ok("TOKEN="+secret(t, "tok")+"\nOTHER="+secret(t, "oth")+"\n", "seal", "--env", "prod", "-i", "-")
	if got := c.ok("", "reveal", "b.env", "OTHER", "--identity", c.path("bob.txt")).stdout; got == "" {
		t.Fatal("bob cannot read the bundle before he leaves")
	}
	policy("{key: " + alice + ", owner: alice}") // Bob leaves
	before := digest(t, c.path("b.env"))
	fresh := secret(t, "fresh")
	ed := editorScript(t, c, "echo \"NEW_FROM_EDIT=$TEST_FRESH\" >> \"$1\"")
	c.env = append(c.env, "EDITOR="+ed, "TEST_FRESH="+fresh)
	for _, w := range []struct {
		stdin string
		args  []string
	}{
		{fresh + "\n", []string{"set", "b.env", "NEW"}},
		{"", []string{"unset", "b.env", "OTHER"}},
		{"", []string{"rotate", "b.env", "TOKEN"}},
		{"", []string{"rotate", "--due", "--yes"}},
		{"", []string{"edit", "b.env"}},
		{fresh + "\n", []string{"set", "--env", "prod", "NEW"}},
	} {
		res := c.run(w.stdin, w.args...)
		if res.code != 2 || !strings.Contains(res.stderr, "sealenv rekey --all") || !strings.Contains(res.stderr, "no longer lists") {
			t.Errorf("%v: exit %d, want 2 naming rekey --all: %s", w.args, res.code, res.stderr)
		}
		if strings.Contains(res.stderr, fresh) {
			t.Fatalf("%v: the value reached the error", w.args)
		}
		if digest(t, c.path("b.env")) != before {
			t.Fatalf("%v: the bundle still wrapped to bob's key was written", w.args)
		}
	}
	if _, err := os.Stat(c.path("editor.argv")); err == nil {
		t.Error("edit opened the editor on a bundle no write may change")
	}
	// The way forward, then the write.
	c.ok("", "rekey", "--all")
	c.ok(fresh+"\n", "set", "b.env", "NEW")
	if got := c.ok("", "reveal", "b.env", "NEW").stdout; strings.TrimSpace(got) != fresh {
		t.Fatal("alice cannot read the fresh value")
	}
	if res := c.run("", "reveal", "b.env", "NEW", "--identity", c.path("bob.txt")); res.code == 0 || strings.Contains(res.stdout, fresh) {
		t.Fatalf("bob's key opened the bundle after he left: exit %d", res.code)
	}
	if sops, err := exec.LookPath("sops"); err == nil {
		cmd := exec.Command(sops, "decrypt", "--input-type", "dotenv", "--output-type", "dotenv", c.path("b.env"))
		cmd.Env = []string{"SOPS_AGE_KEY_FILE=" + c.path("bob.txt"), "HOME=" + c.dir, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err == nil || strings.Contains(string(out), fresh) {
			t.Fatalf("sops with bob's key decrypted the bundle: %v", err)
		}
		cmd = exec.Command(sops, "decrypt", "--input-type", "dotenv", "--output-type", "dotenv", c.path("b.env"))
		cmd.Env = []string{"SOPS_AGE_KEY_FILE=" + c.path("alice.txt"), "HOME=" + c.dir, "PATH=" + os.Getenv("PATH")}
		if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "NEW="+fresh) {
			t.Fatalf("sops with alice's key: %v", err)
		}
	}
}
