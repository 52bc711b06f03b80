package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestScanStaged builds a real git repository: a commit that adds a
// plaintext .env fails the scan and the policy check; once the file is
// sealed they pass. Unstaged changes do not count for --staged.
func TestScanStaged(t *testing.T) {
	c := newParallelCLI(t)
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

// A symlink or a submodule replaced by a regular file is a type change in
// the index; the staged scan reads it, and the plain hook, run by a real
// git commit, refuses the commit.
func TestScanStagedTypeChange(t *testing.T) {
	c := newParallelCLI(t)
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nSEALENV_TEST_MAIN=1 exec " + strconv.Quote(os.Args[0]) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sealenv"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks := t.TempDir()
	hook, err := os.ReadFile("../../scripts/hooks/pre-commit")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(hooks, "pre-commit"), hook, 0o755)
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = c.dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := mustGit(t, git)
	must("init", "-q", "-b", "main")
	must("config", "core.hooksPath", hooks)
	os.WriteFile(c.path("README"), []byte("app\n"), 0o644)
	os.Symlink("README", c.path("link"))
	must("add", "README", "link")
	sub := strings.TrimSpace(must("hash-object", "-w", "README")) // any object id will do for a gitlink
	must("update-index", "--add", "--cacheinfo", "160000,"+sub+",vendor/lib")
	must("commit", "-q", "-m", "base")

	raw := make([]byte, 18)
	rand.Read(raw)
	tok := "ghp_" + hex.EncodeToString(raw) // 36 random alphanumerics

	for _, p := range []string{"link", "vendor/lib"} {
		must("rm", "-q", "--cached", p)
		os.Remove(c.path(p))
		os.MkdirAll(filepath.Dir(c.path(p)), 0o755)
		os.WriteFile(c.path(p), []byte("token: "+tok+"\n"), 0o644)
		must("add", p)
		if out := must("diff", "--cached", "--name-status"); !strings.Contains(out, "T\t"+p) {
			t.Fatalf("%s: not a type change: %q", p, out)
		}
		res := c.run("", "scan", "--staged")
		if res.code != 1 || !strings.Contains(res.stdout, p) || strings.Contains(res.stdout+res.stderr, tok) {
			t.Fatalf("%s: scan --staged exit %d: %q %q", p, res.code, res.stdout, res.stderr)
		}
		if out, err := git("commit", "-q", "-m", "type change"); err == nil {
			t.Fatalf("%s: the hook let the commit through: %s", p, out)
		}
		must("reset", "-q", "--", p)
	}
}

// scan --staged stops what gitleaks stops and the scan used to let
// through with exit 0: a Terraform state, a *.tfvars, an appsettings.json
// with a connection-string password, a kubeconfig and a registry login
// under names of their own, and a token in a UTF-16 file. Each is staged
// in a real git repository; its clean twin passes.
func TestScanStagedCredentialFiles(t *testing.T) {
	c := newParallelCLI(t)
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = c.dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %s", args, out)
		}
	}
	gitc("init", "-q", "-b", "main")
	os.WriteFile(c.path("README"), []byte("app\n"), 0o644)
	gitc("add", "README")
	gitc("commit", "-q", "-m", "base")

	raw := make([]byte, 15)
	rand.Read(raw)
	pw := hex.EncodeToString(raw)
	tokRaw := make([]byte, 27)
	rand.Read(tokRaw)
	gh := "ghp_" + strings.NewReplacer("+", "a", "/", "b").Replace(base64.StdEncoding.EncodeToString(tokRaw)) // 36 random letters and digits
	b64 := base64.StdEncoding.EncodeToString([]byte("deploy:" + pw))
	kube := "apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: prod\ncontexts: []\nkind: Config\nusers:\n- name: admin\n  user:\n"
	utf16 := func(s string) string {
		b := []byte{0xff, 0xfe}
		for _, r := range s {
			b = append(b, byte(r), 0)
		}
		return string(b)
	}
	for _, f := range []struct{ path, yes, no string }{
		{"infra/terraform.tfstate", `{"version": 4, "terraform_version": "1.9.5", "serial": 1, "lineage": "l", "outputs": {"db_password": {"value": "` + pw + `", "type": "string", "sensitive": true}}, "resources": []}`,
			`{"version": 4, "terraform_version": "1.9.5", "serial": 1, "lineage": "l", "outputs": {}, "resources": []}`},
		{"infra/prod.tfvars", "region = \"eu-west-1\"\ndb_password = \"" + pw + "\"\n", "region = \"eu-west-1\"\n"},
		{"src/App/appsettings.json", `{"ConnectionStrings": {"Default": "Server=db;Database=app;User Id=app;Password=` + pw + `;"}}`, `{"ConnectionStrings": {"Default": "Server=db;Database=app;Integrated Security=true;"}}`},
		{"deploy/cluster-admin.conf", kube + "    token: " + pw + "\n", kube + "    exec:\n      command: kubelogin\n"},
		{"ci/registry.json", `{"auths": {"registry.example.com": {"auth": "` + b64 + `"}}}`, `{"auths": {"registry.example.com": {}}}`},
		{"logs/session.txt", utf16("PS> gh auth token\r\n" + gh + "\r\n"), utf16("PS> gh auth status\r\n")},
	} {
		os.MkdirAll(filepath.Dir(c.path(f.path)), 0o755)
		os.WriteFile(c.path(f.path), []byte(f.yes), 0o644)
		gitc("add", f.path)
		res := c.run("", "scan", "--staged", "--format", "json")
		if res.code != 1 || !strings.Contains(res.stdout, `"path": "`+f.path+`"`) {
			t.Errorf("%s staged: exit %d, stdout %q, stderr %q", f.path, res.code, res.stdout, res.stderr)
		}
		if strings.Contains(res.stdout+res.stderr, pw) || strings.Contains(res.stdout+res.stderr, gh) || strings.Contains(res.stdout+res.stderr, b64) {
			t.Errorf("%s: the scan printed the secret", f.path)
		}
		os.WriteFile(c.path(f.path), []byte(f.no), 0o644)
		gitc("add", f.path)
		if res := c.run("", "scan", "--staged"); res.code != 0 {
			t.Errorf("%s clean twin staged: exit %d, stdout %q, stderr %q", f.path, res.code, res.stdout, res.stderr)
		}
		gitc("commit", "-q", "-m", "clean "+f.path)
	}
}
