package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.env")
	os.WriteFile(p, []byte("old"), 0o640)
	if err := WriteFileAtomic(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "new" || st.Mode().Perm() != 0o640 {
		t.Fatalf("content %q mode %v", b, st.Mode())
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "missing", "x"), []byte("x"), 0o644); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

// TestWriteFilesAtomicRollsBack: the second target cannot be replaced (it
// has become a non-empty directory), so the first, already replaced, must
// get its original content back and no temporary file may remain.
func TestWriteFilesAtomicRollsBack(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.env"), filepath.Join(dir, "b.env"), filepath.Join(dir, "c.env")
	for _, p := range []string{a, b, c} {
		os.WriteFile(p, []byte("orig-"+filepath.Base(p)), 0o644)
	}
	// Stage succeeds for all three (b is a regular file at that moment)...
	err := writeFilesWithHook([]string{a, b, c}, [][]byte{[]byte("new-a"), []byte("new-b"), []byte("new-c")}, func() {
		// ...then b turns into a non-empty directory before the commit.
		os.Remove(b)
		os.MkdirAll(filepath.Join(b, "x"), 0o755)
	})
	if err == nil || !strings.Contains(err.Error(), "restored") {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{a, c} {
		if got, _ := os.ReadFile(p); string(got) != "orig-"+filepath.Base(p) {
			t.Errorf("%s = %q after rollback", p, got)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
