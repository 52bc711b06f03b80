package keyenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const helperEnv = "KEYENV_TEST_HELPER"

// TestMain lets the tests run this binary as the process whose environment
// is taken: Take changes the process, so it runs in a child.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "take":
		os.Exit(helper())
	case "scrub":
		// The rewrite alone, before the process is made undumpable (which
		// makes even its own /proc/self/environ unreadable).
		err := scrub([]string{"TEST_KEY"})
		self, rerr := os.ReadFile("/proc/self/environ")
		fmt.Printf("scrub-err=%v read-err=%v\nself-environ=%s\n", err, rerr, strings.ReplaceAll(string(self), "\x00", "|"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper takes TEST_KEY, then reports what it and a child can still see.
func helper() int {
	h, err := Take([]string{"TEST_KEY", "TEST_ABSENT"})
	if err != nil {
		fmt.Println("take:", err)
		return 1
	}
	v, ok := h.Lookup("TEST_KEY")
	fmt.Printf("held=%v len=%d go-env=%q\n", ok, len(v), os.Getenv("TEST_KEY"))
	// Not dumpable: /proc/self/environ now belongs to root, mode 0400.
	if self, err := os.ReadFile("/proc/self/environ"); err == nil {
		fmt.Printf("self-environ=%s\n", strings.ReplaceAll(string(self), "\x00", "|"))
	}
	// A child of the same user: its own environment, and its parent's.
	out, _ := exec.Command("sh", "-c", `env; echo "parent-environ:"; cat /proc/$PPID/environ; echo "parent-mem:"; head -c 64 /proc/$PPID/mem`).CombinedOutput()
	fmt.Printf("child=%s\n", out)
	fmt.Printf("environ-pairs=%d\n", strings.Count(strings.Join(h.Environ(), "\n"), "TEST_KEY="))
	return 0
}

// runHelper runs this binary in helper mode with a generated key in
// TEST_KEY and returns its output, the key and the kept value.
func runHelper(t *testing.T, mode string) (got, key, keep string) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key = "AGE-SECRET-KEY-TEST" + strings.ToUpper(hex.EncodeToString(raw))
	keep = "keep-" + hex.EncodeToString(raw[:6])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if os.Geteuid() == 0 {
		// As root, run the helper and its child as another user: the
		// check is about processes of the same (unprivileged) user.
		cmd = asNobody(t)
	}
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "TEST_KEY="+key, "TEST_KEEP="+keep)
	out, err := cmd.CombinedOutput()
	got = string(out)
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, strings.ReplaceAll(got, key, "[KEY]"))
	}
	if strings.Contains(got, key) || strings.Contains(got, key[len(key)-16:]) {
		t.Fatalf("the key is still visible:\n%s", strings.ReplaceAll(got, key, "[KEY]"))
	}
	return got, key, keep
}

func TestScrubKeepsTheRestOfTheBlock(t *testing.T) {
	t.Parallel()
	got, _, keep := runHelper(t, "scrub")
	if !strings.Contains(got, "scrub-err=<nil> read-err=<nil>") || !strings.Contains(got, "|TEST_KEEP="+keep+"|") {
		t.Errorf("after the rewrite /proc/self/environ should still hold TEST_KEEP:\n%s", got)
	}
	if strings.Contains(got, "TEST_KEY=") {
		t.Errorf("after the rewrite /proc/self/environ still names TEST_KEY:\n%s", got)
	}
}

func TestTakeHidesTheKeyFromProcAndChildren(t *testing.T) {
	t.Parallel()
	got, key, keep := runHelper(t, "take")
	for _, want := range []string{
		fmt.Sprintf("held=true len=%d go-env=\"\"", len(key)),
		"TEST_KEEP=" + keep, // the rest of the environment reaches children
		"environ-pairs=1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("helper output lacks %q:\n%s", want, got)
		}
	}
	// Not dumpable: the child of the same user cannot open the parent's
	// environ or mem (root could).
	if strings.Count(got, "Permission denied") < 2 {
		t.Errorf("a same-user child could read the parent's /proc files:\n%s", got)
	}
}

// asNobody returns a command that runs a copy of the test binary as uid
// and gid 65534.
func asNobody(t *testing.T) *exec.Cmd {
	// A directory of its own that nobody can enter (t.TempDir's parent is
	// the testing package's, mode 0700, not this test's to change).
	dir, err := os.MkdirTemp("", "keyenv-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "keyenv.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

func TestTakeWithNothingSetChangesNothing(t *testing.T) {
	t.Parallel()
	h, err := Take([]string{"KEYENV_TEST_NEVER_SET_1"})
	if err != nil || len(h.Names()) != 0 {
		t.Fatalf("Take of an unset name: %v, %v", h.Names(), err)
	}
	if _, ok := h.Lookup("KEYENV_TEST_NEVER_SET_1"); ok {
		t.Fatal("Lookup found a name that was never set")
	}
}

func TestEnvBounds(t *testing.T) {
	t.Parallel()
	start, end, err := envBounds()
	if err != nil {
		t.Fatal(err)
	}
	if end <= start {
		t.Fatalf("env_start %#x, env_end %#x", start, end)
	}
	b, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(b)) != end-start {
		t.Errorf("/proc/self/environ is %d bytes, the bounds say %d", len(b), end-start)
	}
}
