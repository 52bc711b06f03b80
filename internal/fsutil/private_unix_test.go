//go:build unix

package fsutil

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRemoveStaleMemoryDirs: a private directory whose process is gone is
// removed; one of a live process, a file, and a name that is not ours stay.
func TestRemoveStaleMemoryDirs(t *testing.T) {
	base := t.TempDir()
	t.Setenv(EnvPrivateDir, base)
	// A PID that cannot exist (above the kernel's pid_max).
	stale := filepath.Join(base, editPrefix+"2147483646-abc")
	live := filepath.Join(base, editPrefix+strconv.Itoa(os.Getpid())+"-abc")
	other := filepath.Join(base, "sealenv-other-1-abc")
	file := filepath.Join(base, editPrefix+"2147483645-file")
	for _, d := range []string{stale, live, other} {
		os.MkdirAll(filepath.Join(d, "sub"), 0o700)
		os.WriteFile(filepath.Join(d, "sub", "plain.env"), []byte("K=v\n"), 0o600)
	}
	os.WriteFile(file, nil, 0o600)
	removed, err := RemoveStaleMemoryDirs()
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != stale {
		t.Fatalf("removed %v, want only %s", removed, stale)
	}
	for _, keep := range []string{live, other, file} {
		if _, err := os.Lstat(keep); err != nil {
			t.Errorf("%s was removed", keep)
		}
	}
}
