package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	t.Parallel()
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

// TestWriteChangesJournaledRollsBack: the second target cannot be replaced (it
// has become a non-empty directory), so the first, already replaced, must
// get its original content back and no temporary file may remain.
func TestWriteChangesJournaledRollsBack(t *testing.T) {
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
	err := WriteChangesJournaled(filepath.Join(dir, ".journal"), []Change{{Path: a, Data: []byte("new-a")}, {Path: b, Data: []byte("new-b")}, {Path: c, Data: []byte("new-c")}})
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

func TestMkdirAllWithin(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "out"))
	made, err := MkdirAllWithin(filepath.Join(root, "a", "b"), root, 0o700)
	if err != nil || len(made) != 2 || made[0] != filepath.Join(root, "a") {
		t.Fatalf("MkdirAllWithin = %v, %v", made, err)
	}
	if st, err := os.Stat(filepath.Join(root, "a", "b")); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("created %v, %v", st, err)
	}
	if made, err := MkdirAllWithin(filepath.Join(root, "a"), root, 0o700); err != nil || made != nil {
		t.Fatalf("existing dir: %v, %v", made, err)
	}
	if _, err := MkdirAllWithin(filepath.Join(root, "out", "x"), root, 0o755); err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Fatalf("through a symlink out of the root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("created a directory outside the root")
	}
	os.WriteFile(filepath.Join(root, "f"), nil, 0o644)
	if _, err := MkdirAllWithin(filepath.Join(root, "f", "x"), root, 0o755); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("under a file: %v", err)
	}
}
