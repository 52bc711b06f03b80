package action

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestActionCheckBase runs the action's check step in a pull request as
// actions/checkout leaves it: a one-commit (shallow) clone of the pull
// request's branch, GITHUB_BASE_REF naming the base branch of origin. The
// step fetches the base and the history, and check --base fails the job
// on the recipient the pull request adds, naming its author; with
// trust-changes: warning it is a warning.
func TestActionCheckBase(t *testing.T) {
	t.Parallel()
	needTools(t)
	rel := makeRelease(t)
	dir := t.TempDir()
	gitEnv := []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com"}
	run := func(in, author string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = in
		n, e, _ := strings.Cut(author, " <")
		cmd.Env = append(gitEnv, "GIT_AUTHOR_NAME="+n, "GIT_AUTHOR_EMAIL="+strings.TrimSuffix(e, ">"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	origin := filepath.Join(dir, "origin")
	os.MkdirAll(filepath.Join(origin, "secrets"), 0o755)
	keyFile := filepath.Join(dir, "alice.txt")
	alice := run(dir, "", rel.sealenv, "keygen", "-o", keyFile)
	mallory := run(dir, "", rel.sealenv, "keygen", "-o", filepath.Join(dir, "mallory.txt"))
	policy := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n      - {key: " + alice + "}\n"
	os.WriteFile(filepath.Join(origin, "sealenv.yaml"), []byte(policy), 0o644)
	cmd := exec.Command(rel.sealenv, "seal", "--env", "prod", "-i", "-")
	cmd.Dir, cmd.Env, cmd.Stdin = origin, append(gitEnv, "SEALENV_AGE_KEY_FILE="+keyFile), strings.NewReader("API_TOKEN="+value(t)+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seal: %v: %s", err, out)
	}
	git := func(author string, args ...string) { run(origin, author, "git", args...) }
	git("", "init", "-q", "-b", "main")
	git("Alice <alice@example.com>", "add", "-A")
	git("Alice <alice@example.com>", "commit", "-q", "-m", "base")
	git("", "checkout", "-q", "-b", "pr")
	os.WriteFile(filepath.Join(origin, "README"), []byte("docs\n"), 0o644)
	git("Mallory <mallory@example.net>", "add", "-A")
	git("Mallory <mallory@example.net>", "commit", "-q", "-m", "docs")
	os.WriteFile(filepath.Join(origin, "sealenv.yaml"), []byte(policy+"      - {key: "+mallory+", owner: deploy}\n"), 0o644)
	git("Mallory <mallory@example.net>", "commit", "-q", "-am", "deploy key")
	git("Mallory <mallory@example.net>", "commit", "-q", "--allow-empty", "-m", "more")

	job := func(inputs map[string]string) result {
		j := newJob(t)
		os.Remove(j.workspace)
		run(dir, "", "git", "clone", "-q", "--depth", "1", "--branch", "pr", "file://"+origin, j.workspace)
		j.env = append(slices.Clone(gitEnv[2:]), "GITHUB_BASE_REF=main") // the runner's PATH and HOME stay
		in := map[string]string{"version": version, "release-url": "file://" + rel.dir, "image": "docker-archive:" + filepath.Join(dir, "none.tar"), "check": "true"}
		for k, v := range inputs {
			in[k] = v
		}
		return j.use(in)
	}
	res := job(nil)
	if res.code != 1 || strings.Join(res.steps, ",") != "install,check" {
		t.Fatalf("exit %d after %v, want 1 after install,check:\n%s", res.code, res.steps, res.log)
	}
	for _, want := range []string{"recipient-added", "(Mallory <mallory@example.net>)"} {
		if !strings.Contains(res.log, want) {
			t.Errorf("check step lacks %q:\n%s", want, res.log)
		}
	}
	// As warnings, the trust change is shown; the bundle not yet rekeyed
	// to the new recipient still fails check, with a hint to review first.
	res = job(map[string]string{"trust-changes": "warning"})
	if res.code != 1 || !strings.Contains(res.log, "warning [prod] recipient-added") || !strings.Contains(res.log, "first review who added it") {
		t.Fatalf("trust-changes warning: exit %d:\n%s", res.code, res.log)
	}
}
