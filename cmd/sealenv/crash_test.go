//go:build unix

package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealenv/sealenv/seal"
)

// TestRekeyAllSurvivesSIGKILL kills rekey --all of 40 bundles (8 under
// -short) at every rename (and before and after its commit), then runs
// check: every time, either all bundles are as before or all are rekeyed,
// nothing is left next to them, and check says what it did.
func TestRekeyAllSurvivesSIGKILL(t *testing.T) {
	c := newParallelCLI(t)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	n := 40
	if testing.Short() {
		n = 8 // the same steps, of fewer bundles
	}
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

// TestEditKilledLeavesNoPlaintext: edit killed with SIGKILL cannot remove
// its plaintext copy; the next edit, and check, find it (this user's, its
// process gone) and remove it, saying so.
func TestEditKilledLeavesNoPlaintext(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "sealenv-test-")
	if err != nil {
		t.Skip("no /dev/shm")
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	value := secret(t, "v")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SEALENV_SHM_DIR="+shm)
	c.ok("A="+value+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	ed := editorScript(t, c, "exec sleep 30")
	// A second copy that belongs to a live process stays.
	live := filepath.Join(shm, fmt.Sprintf("sealenv-edit-%d-live", os.Getpid()))
	os.Mkdir(live, 0o700)

	for _, next := range []string{"edit", "check"} {
		os.Remove(c.path("editor.argv"))
		cmd := exec.Command(os.Args[0], "edit", "b.env")
		cmd.Dir = c.dir
		cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "EDITOR=" + ed}, c.env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var copyPath string
		for range 200 {
			if b, err := os.ReadFile(c.path("editor.argv")); err == nil && len(b) > 0 {
				copyPath = strings.TrimSpace(string(b))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if copyPath == "" {
			t.Fatal("the editor never ran")
		}
		if b, err := os.ReadFile(copyPath); err != nil || !strings.Contains(string(b), value) {
			t.Fatalf("no plaintext copy left by the killed edit (%v): the test proves nothing", err)
		}
		var res result
		if next == "edit" {
			c.env = append(c.env, "EDITOR=true")
			res = c.ok("", "edit", "b.env")
			c.env = c.env[:len(c.env)-1]
		} else {
			res = c.ok("", "check", "--no-identity")
		}
		if !strings.Contains(res.stderr, "removed "+filepath.Dir(copyPath)) {
			t.Errorf("%s does not say it removed the copy: %q", next, res.stderr)
		}
		if _, err := os.Stat(filepath.Dir(copyPath)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left the plaintext copy of a killed edit", next)
		}
		if _, err := os.Stat(live); err != nil {
			t.Fatalf("%s removed the copy of a live process", next)
		}
	}
}
