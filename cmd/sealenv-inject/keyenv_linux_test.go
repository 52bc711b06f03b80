package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/seal"
)

// TestSuperviseHidesTheKeyFromProc1: in --supervise and --redact modes the
// injector stays the command's parent (PID 1 in a container). The age key
// it was given in SEALENV_AGE_KEY is gone from its /proc/PID/environ, which
// the command (same user) reads; the rest of the environment is there.
func TestSuperviseHidesTheKeyFromProc1(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, mode := range []string{"--supervise", "--redact"} {
		t.Run(mode, func(t *testing.T) {
			argv := []string{"-sealenv-inject", "--bundle", f.bundle, "--no-access-log", mode, "--",
				"sh", "-c", `echo "== parent"; tr '\0' '\n' < /proc/$PPID/environ; echo "== self"; env; echo "== end"`}
			cmd := exec.Command(self(t), argv...)
			cmd.Env = env(seal.EnvAgeKey+"="+f.key.Text, "SEALENV_TEST_KEEP=kept")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			out := stdout.String()
			if !strings.Contains(out, "== end") {
				t.Fatalf("the command did not finish:\n%s", out)
			}
			parent, _, _ := strings.Cut(out, "== self")
			if !strings.Contains(parent, "SEALENV_TEST_KEEP=kept") {
				t.Errorf("the injector's /proc/PID/environ lost the other variables:\n%s", parent)
			}
			if strings.Contains(out, f.key.Text) || strings.Contains(out, seal.EnvAgeKey+"=") {
				t.Errorf("the command found the age key in its or the injector's environment")
			}
		})
	}
}
