package inject

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// TestDefaultNames: the default declared names file (where sealenv build
// and wrap put it) turns the check on when it exists, in any form (a
// directory there is an error, not a silent pass), and changes nothing
// when it does not; --names given wins over it.
func TestDefaultNames(t *testing.T) {
	t.Parallel()
	key := injecttest.NewKey(t)
	dir := t.TempDir()
	bundle := injecttest.Write(t, dir, "b.env", []injecttest.Key{key},
		injecttest.Entry{Name: "API_TOKEN", Value: injecttest.Value(t, "tok-")}, injecttest.Entry{Name: "APP_HOOK", Value: injecttest.Value(t, "hook-")})
	def := filepath.Join(dir, "names")
	load := func(names string) error {
		var stderr bytes.Buffer
		c := config(&stderr, seal.EnvAgeKey+"="+key.Text)
		c.Bundles, c.NamesDefault, c.Names = []string{bundle}, def, names
		l, err := c.load()
		if l != nil {
			l.zero()
		}
		return err
	}
	if err := load(""); err != nil {
		t.Fatalf("no default file: %v", err)
	}
	os.WriteFile(def, []byte("# declared\nAPI_TOKEN\n"), 0o444)
	if err := load(""); ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "key APP_HOOK is not among the names "+def+" declares") {
		t.Fatalf("default file without APP_HOOK: %v", err)
	}
	both := filepath.Join(dir, "both")
	os.WriteFile(both, []byte("API_TOKEN\nAPP_HOOK\n"), 0o444)
	if err := load(both); err != nil {
		t.Fatalf("--names over the default file: %v", err)
	}
	os.Remove(def)
	os.Mkdir(def, 0o755)
	if err := load(""); ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), def+": not a regular file") {
		t.Fatalf("a directory at the default path: %v", err)
	}
}

// TestNamesFile: the declared names file holds each name once, sorted, one
// a line, after a comment line naming the tool; no names, no file.
func TestNamesFile(t *testing.T) {
	t.Parallel()
	if NamesFile(nil, "sealenv build") != nil {
		t.Fatal("a file without names")
	}
	got := string(NamesFile([]string{"B_KEY", "A_KEY", "B_KEY"}, "sealenv build"))
	if head, body, ok := strings.Cut(got, "\n"); !ok || !strings.HasPrefix(head, "# ") || !strings.Contains(head, "(sealenv build)") || body != "A_KEY\nB_KEY\n" {
		t.Fatalf("names file %q", got)
	}
}
