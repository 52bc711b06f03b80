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
func TestWriteFilesJournaledRollsBack(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.env"), filepath.Join(dir, "b.env"), filepath.Join(dir, "c.env")
	for _, p := range []string{a, b, c} {
		os.WriteFile(p, []byte("orig-"+filepath.Base(p)), 0o644)
	}
	// Staging succeeds for all three; then b turns into a non-empty
	// directory before its rename.
	TestHookStep = func(i, n int) {
		if i == 1 {
			os.Remove(b)
			os.MkdirAll(filepath.Join(b, "x"), 0o755)
		}
	}
	defer func() { TestHookStep = nil }()
	err := WriteFilesJournaled(filepath.Join(dir, ".journal"), []string{a, b, c}, [][]byte{[]byte("new-a"), []byte("new-b"), []byte("new-c")})
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
		// b's backup stays: b is a directory now, and the old content is
		// not thrown away.
		if strings.Contains(e.Name(), ".sealenv-new-") || strings.Contains(e.Name(), "journal") {
			t.Errorf("file left behind: %s", e.Name())
		}
	}
}
