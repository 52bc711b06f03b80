package policies_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealenv/sealenv/policies"
)

// TestFindNested: Find returns the nearest policy only when every policy
// above it, up to the directory holding .git, names it; a policy beyond
// the repository root is not read.
func TestFindNested(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	repo := filepath.Join(top, "repo")
	sub := filepath.Join(repo, "secrets")
	for _, d := range []string{filepath.Join(repo, ".git"), sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const empty = "version: 1\n"
	write(filepath.Join(top, policies.FileName), "not: a policy: at all\n") // outside the repository
	write(filepath.Join(repo, policies.FileName), empty)
	write(filepath.Join(sub, policies.FileName), empty)

	_, err := policies.Find(sub)
	var ne *policies.NestedError
	if !errors.As(err, &ne) || ne.Path != filepath.Join(sub, policies.FileName) || ne.Outer != filepath.Join(repo, policies.FileName) || ne.Err != nil {
		t.Fatalf("unnamed nested policy: %v", err)
	}
	if got, err := policies.Find(repo); err != nil || got != filepath.Join(repo, policies.FileName) {
		t.Fatalf("root policy: %q, %v", got, err)
	}

	write(filepath.Join(repo, policies.FileName), empty+"nested_policies: [{path: secrets/sealenv.yaml, reason: test}]\n")
	if got, err := policies.Find(sub); err != nil || got != filepath.Join(sub, policies.FileName) {
		t.Fatalf("named nested policy: %q, %v", got, err)
	}

	write(filepath.Join(repo, policies.FileName), "version: [\n")
	if _, err := policies.Find(sub); !errors.As(err, &ne) || ne.Err == nil {
		t.Fatalf("root policy that does not parse: %v", err)
	}
}
