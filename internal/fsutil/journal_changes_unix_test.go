//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJournalCreatesAndRemovesUnderSIGKILL: a change that replaces two
// bundles, creates one signature and removes another is all-or-nothing
// when the process is killed at any step: afterwards either the old set
// of files (the created one absent, the removed one back) or the new one
// exists, and nothing is left behind.
func TestJournalCreatesAndRemovesUnderSIGKILL(t *testing.T) {
	t.Parallel()
	changes := func(dir string) []Change {
		return []Change{
			{Path: filepath.Join(dir, "a.env"), Data: []byte("new-a")},
			{Path: filepath.Join(dir, "a.env.sig"), Data: []byte("new-a-sig")},
			{Path: filepath.Join(dir, "b.env"), Data: []byte("new-b")},
			{Path: filepath.Join(dir, "b.env.sig"), Remove: true},
			{Path: filepath.Join(dir, "c.env.sig"), Remove: true}, // absent: nothing to do
		}
	}
	if dir := os.Getenv("FSUTIL_TEST_CHANGES_DIR"); dir != "" {
		step, _ := strconv.Atoi(os.Getenv("FSUTIL_TEST_KILL_AT"))
		TestHookStep = func(i, n int) {
			if i == step {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
		if err := WriteChangesJournaled(filepath.Join(dir, ".journal"), changes(dir)); err != nil {
			t.Fatal(err)
		}
		return
	}
	old := map[string]string{"a.env": "old-a", "b.env": "old-b", "b.env.sig": "old-b-sig"}
	new := map[string]string{"a.env": "new-a", "a.env.sig": "new-a-sig", "b.env": "new-b"}
	// Four files change: steps 0-3 before each, 4 before the commit
	// marker, 5 after it; 6: not killed.
	for step := 0; step <= 6; step++ {
		dir := t.TempDir()
		for name, content := range old {
			os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCreatesAndRemovesUnderSIGKILL$")
		cmd.Env = append(os.Environ(), "FSUTIL_TEST_CHANGES_DIR="+dir, "FSUTIL_TEST_KILL_AT="+strconv.Itoa(step))
		err := cmd.Run()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
		if killed != (step <= 5) {
			t.Fatalf("step %d: killed %v, err %v", step, killed, err)
		}
		if _, err := Recover(filepath.Join(dir, ".journal"), time.Second); err != nil {
			t.Fatalf("step %d: recover: %v", step, err)
		}
		want := old
		if step >= 5 {
			want = new
		}
		got := map[string]string{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			got[e.Name()] = string(b)
		}
		if !equal(got, want) {
			t.Errorf("step %d: files %v, want %v", step, keys(got), keys(want))
		}
	}
	// Removing a file that does not exist is no change at all.
	dir := t.TempDir()
	if err := WriteChangesJournaled(filepath.Join(dir, ".journal"), []Change{{Path: filepath.Join(dir, "x.sig"), Remove: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".journal")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left: %v", err)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
