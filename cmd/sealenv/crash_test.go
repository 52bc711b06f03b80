package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/sealenv/sealenv/seal"
)

// TestRekeyAllSurvivesSIGKILL kills rekey --all of 40 bundles at every
// rename (and before and after its commit), then runs check: every time,
// either all 40 bundles are as before or all 40 are rekeyed, nothing is
// left next to them, and check says what it did.
func TestRekeyAllSurvivesSIGKILL(t *testing.T) {
	c := newCLI(t)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	const n = 40
	os.MkdirAll(c.path("secrets"), 0o755)
	policy := func(rs ...string) string {
		var b strings.Builder
		b.WriteString("version: 1\nenvironments:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - name: e%02d\n    bundle: secrets/e%02d.env\n    recipients:\n", i, i)
			for _, r := range rs {
				fmt.Fprintf(&b, "      - {key: %s}\n", r)
			}
		}
		return b.String()
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy(alice)), 0o644)
	orig := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("secrets/e%02d.env", i)
		c.ok(fmt.Sprintf("K=v%d\n", i), "seal", "--env", fmt.Sprintf("e%02d", i), "-i", "-")
		orig[name] = mustRead(t, c.path(name))
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy(alice, bob)), 0o644)
	for step := 0; step <= n+1; step++ {
		for name, data := range orig {
			os.WriteFile(c.path(name), data, 0o644)
		}
		cmd := exec.Command(os.Args[0], "rekey", "--all")
		cmd.Dir = c.dir
		cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), fmt.Sprintf("SEALENV_TEST_KILL_AT_STEP=%d", step)}, c.env...)
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("step %d: rekey --all was not killed: %v", step, err)
		}
		r := c.run("", "check", "--no-identity")
		changed := 0
		for name, data := range orig {
			now := mustRead(t, c.path(name))
			if sha256.Sum256(now) != sha256.Sum256(data) {
				changed++
				info, err := seal.Inspect(seal.FormatDotenv, now)
				if err != nil || len(info.Recipients) != 2 {
					t.Fatalf("step %d: %s is neither old nor rekeyed: %v", step, name, err)
				}
			}
		}
		switch {
		case changed == 0 && step <= n:
			if r.code != 1 || !strings.Contains(r.stderr, "rolled back") {
				t.Errorf("step %d: check after a rollback: exit %d, stderr %q", step, r.code, r.stderr)
			}
		case changed == n && step == n+1:
			if r.code != 0 || !strings.Contains(r.stderr, "finished it") {
				t.Errorf("step %d: check after a finished write: exit %d, stderr %q", step, r.code, r.stderr)
			}
		default:
			t.Fatalf("step %d: %d of %d bundles rekeyed", step, changed, n)
		}
		entries, _ := os.ReadDir(c.path("secrets"))
		if len(entries) != n {
			t.Fatalf("step %d: %d files in secrets/, want %d", step, len(entries), n)
		}
		if _, err := os.Stat(c.path(".sealenv-journal")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("step %d: the journal is still there", step)
		}
	}
}
