package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLockExcludes: a second Lock of a locked file waits, then fails with
// ErrLocked; after the release it succeeds. Two opens in one process
// conflict as two processes do (flock is per open file, LockFileEx per
// handle).
func TestLockExcludes(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "b.env")
	os.WriteFile(p, []byte("x"), 0o644)
	release, err := Lock(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Lock(p, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("gave up after %s, before the wait", waited)
	}
	// The lock must not stand in the way of reading or replacing the
	// content (on Windows, a lock on the content's bytes would).
	if b, err := os.ReadFile(p); err != nil || string(b) != "x" {
		t.Fatalf("reading the locked file: %q, %v", b, err)
	}
	if err := WriteFileAtomic(p, []byte("y"), 0o644); err != nil {
		t.Fatalf("replacing the locked file: %v", err)
	}
	release()
	again, err := Lock(p, 0)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
	if _, err := Lock(filepath.Join(t.TempDir(), "missing"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock of a missing file: %v", err)
	}
}

// TestLockFollowsReplacement: a writer waiting for the lock while the
// holder renames a new file over the path must end up holding the new
// file, or two writers would both believe they hold the bundle.
func TestLockFollowsReplacement(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "b.env")
	os.WriteFile(p, []byte("old"), 0o644)
	release, err := Lock(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func())
	go func() {
		u, err := Lock(p, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	time.Sleep(100 * time.Millisecond) // the waiter has opened the old file
	if err := WriteFileAtomic(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	release()
	waiter := <-got
	if waiter == nil {
		t.FailNow()
	}
	defer waiter()
	if _, err := Lock(p, 50*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("the waiter holds a lock on the replaced file, not on %s: %v", p, err)
	}
}

func TestLockWait(t *testing.T) {
	for v, want := range map[string]time.Duration{"": DefaultLockWait, "90s": 90 * time.Second, "1d": 24 * time.Hour, "0": 0, "soon": DefaultLockWait} {
		t.Setenv(EnvLockTimeout, v)
		if got := LockWait(); got != want {
			t.Errorf("%s=%q: %v, want %v", EnvLockTimeout, v, got, want)
		}
		if err := CheckLockWait(); (err != nil) != (v == "soon") {
			t.Errorf("%s=%q: CheckLockWait = %v", EnvLockTimeout, v, err)
		}
	}
}
