package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestScanStaged builds a real git repository: a commit that adds a
// plaintext .env fails the scan and the policy check; once the file is
// sealed they pass. Unstaged changes do not count for --staged.
func TestScanStaged(t *testing.T) {
	c := newCLI(t)
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = c.dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %s", args, out)
		}
	}
	gitc("init", "-q", "-b", "main")
	r := c.keygen("key.txt")
	os.WriteFile(c.path(".gitignore"), []byte("key.txt\n"), 0o644)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients: [{key: "+r+", owner: me}]\n"), 0o644)
	os.MkdirAll(c.path("secrets"), 0o755)
	token := secret(t, "tok") + secret(t, "x")
	os.WriteFile(c.path("secrets/prod.env"), []byte("API_TOKEN="+token+"\n"), 0o644)
	gitc("add", ".gitignore", "sealenv.yaml", "secrets/prod.env")

	res := c.run("", "scan", "--staged")
	if res.code != 1 || !strings.Contains(res.stdout, "secrets/prod.env") {
		t.Fatalf("plaintext .env staged: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, token) {
		t.Fatal("the scan printed the secret")
	}
	if res := c.run("", "check"); res.code != 1 || !strings.Contains(res.stdout, "not-sealed") {
		t.Fatalf("check on a plaintext bundle: exit %d, %q", res.code, res.stdout)
	}

	// Seal it in place (the plaintext goes in once through stdin) and stage the sealed file.
	plain, _ := os.ReadFile(c.path("secrets/prod.env"))
	os.Remove(c.path("secrets/prod.env"))
	c.ok(string(plain), "seal", "--env", "prod", "-i", "-")
	gitc("add", "secrets/prod.env")
	if res := c.run("", "scan", "--staged"); res.code != 0 {
		t.Fatalf("sealed bundle staged: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if res := c.run("", "check"); res.code != 0 {
		t.Fatalf("check on the sealed bundle: exit %d, %q", res.code, res.stdout)
	}
	gitc("commit", "-q", "-m", "sealed")

	// A plaintext secret left unstaged is not part of the commit...
	os.WriteFile(c.path("notes.env"), []byte("DB_PASSWORD="+secret(t, "pw")+secret(t, "pw")+"\n"), 0o644)
	if res := c.run("", "scan", "--staged"); res.code != 0 {
		t.Fatalf("unstaged file counted by --staged: exit %d, %q", res.code, res.stdout)
	}
	// A file name with a newline and spaces cannot hide a staged secret.
	odd := "odd name\nwith newline.env"
	os.WriteFile(c.path(odd), []byte("API_KEY="+secret(t, "k")+secret(t, "k")+"\n"), 0o644)
	gitc("add", "--", odd)
	if res := c.run("", "scan", "--staged"); res.code != 1 || !strings.Contains(res.stdout, "with newline.env") {
		t.Fatalf("odd file name: exit %d, %q", res.code, res.stdout)
	}
	gitc("rm", "-q", "--cached", "--", odd)
	os.Remove(c.path(odd))
	// ...but the working-tree scan sees it.
	if res := c.run("", "scan"); res.code != 1 || !strings.Contains(res.stdout, "notes.env") {
		t.Fatalf("working tree scan: exit %d, %q", res.code, res.stdout)
	}
}
