//go:build unix

package fsutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestJournalSurvivesSIGKILL kills a real process at every step of a
// journaled write of 5 files, then recovers: every file is old, or every
// file is new, and nothing is left behind.
func TestJournalSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	if dir := os.Getenv("FSUTIL_TEST_JOURNAL_DIR"); dir != "" {
		step, _ := strconv.Atoi(os.Getenv("FSUTIL_TEST_KILL_AT"))
		TestHookStep = func(i, n int) {
			if i == step {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
		var changes []Change
		for i := range 5 {
			changes = append(changes, Change{Path: filepath.Join(dir, fmt.Sprintf("%d.env", i)), Data: []byte(fmt.Sprintf("new-%d", i))})
		}
		if err := WriteChangesJournaled(filepath.Join(dir, ".journal"), changes); err != nil {
			t.Fatal(err)
		}
		return
	}
	for step := 0; step <= 7; step++ {
		dir := t.TempDir()
		for i := range 5 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.env", i)), []byte(fmt.Sprintf("old-%d", i)), 0o644)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalSurvivesSIGKILL$")
		cmd.Env = append(os.Environ(), "FSUTIL_TEST_JOURNAL_DIR="+dir, fmt.Sprintf("FSUTIL_TEST_KILL_AT=%d", step))
		err := cmd.Run()
		killed := false
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed = true
			}
		}
		if step <= 6 != killed {
			t.Fatalf("step %d: killed %v, err %v", step, killed, err)
		}
		what, err := Recover(filepath.Join(dir, ".journal"), time.Second)
		if err != nil {
			t.Fatalf("step %d: recover: %v", step, err)
		}
		want := map[bool]string{true: "new", false: "old"}[step >= 6]
		wantWhat := map[int]Recovery{5: RolledBack, 6: Finished, 7: Nothing}[step]
		if step < 5 {
			wantWhat = RolledBack
		}
		if what != wantWhat {
			t.Errorf("step %d: recovery %d, want %d", step, what, wantWhat)
		}
		for i := range 5 {
			got, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.env", i)))
			if string(got) != fmt.Sprintf("%s-%d", want, i) {
				t.Errorf("step %d: file %d = %q, want %s", step, i, got, want)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 5 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("step %d: left behind: %v", step, names)
		}
	}
}
