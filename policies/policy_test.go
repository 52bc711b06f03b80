package policies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/policies"
)

// TestInvalidPolicies: one file per error; its first line says the exact
// message (file:line and reason) that Load must return.
func TestInvalidPolicies(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 8 {
		t.Fatalf("fixtures: %v (%d)", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# expect: ")
			if !ok {
				t.Fatal("fixture has no # expect: line")
			}
			_, err = policies.Load(f)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "72h": 72 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := policies.ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"-1d", "soon", "", "d"} {
		if _, err := policies.ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFindStopsAtRepositoryRoot(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(root, policies.FileName)
	repo := filepath.Join(root, "repo")
	deep := filepath.Join(repo, "a", "b")
	os.MkdirAll(deep, 0o755)
	os.MkdirAll(filepath.Join(repo, ".git"), 0o755)
	os.WriteFile(outside, []byte("version: 1\n"), 0o644)
	if _, err := policies.Find(deep); err != policies.ErrNotFound {
		t.Fatalf("found a policy above the repository root: %v", err)
	}
	inside := filepath.Join(repo, policies.FileName)
	os.WriteFile(inside, []byte("version: 1\n"), 0o644)
	if got, err := policies.Find(deep); err != nil || got != inside {
		t.Fatalf("Find = %q, %v", got, err)
	}
}
