package policies

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestGeneratorFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"gen.sh", "gen.py", "scripts/a.py", "scripts/lib.sh"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	outside := filepath.Join(filepath.Dir(dir), "outside.sh")
	for cmd, want := range map[string][]string{
		"./gen.sh":                            {"gen.sh"},
		"python3 'scripts/a.py' --n 3":        {"scripts/a.py"},
		"sh -c \"scripts/lib.sh\";./gen.sh":   {"gen.sh", "scripts/lib.sh"},
		"vendor-cli new-token":                nil,
		"../outside.sh; " + outside:           nil,
		"cat $HOME/gen.sh scripts/*.py":       nil,
		"./scripts|./gen.sh>out":              {"gen.sh"},
		"sh -c 'python3 gen.py --n 3'":        {"gen.py"},
		"bash -c \"cd x; sh 'scripts/a.py'\"": {"scripts/a.py"},
	} {
		g := &Generator{Command: cmd, root: dir}
		if got := g.Files(); !slices.Equal(got, want) {
			t.Errorf("%q: files %v, want %v", cmd, got, want)
		}
	}
}

func TestPinChangesWithCommandAndFiles(t *testing.T) {
	t.Parallel()
	base := PinOf("./gen.sh", map[string][]byte{"gen.sh": []byte("a")})
	for name, other := range map[string]string{
		"command": PinOf("./gen.sh ", map[string][]byte{"gen.sh": []byte("a")}),
		"content": PinOf("./gen.sh", map[string][]byte{"gen.sh": []byte("b")}),
		"path":    PinOf("./gen.sh", map[string][]byte{"gen2.sh": []byte("a")}),
		"a file":  PinOf("./gen.sh", map[string][]byte{"gen.sh": []byte("a"), "x": nil}),
	} {
		if other == base {
			t.Errorf("a changed %s keeps the pin", name)
		}
	}
}

// TestPinGeneratorsEditsOneLine: pin adds or replaces one sha256 per
// generator, in block and flow style, and keeps every other byte
// (comments, blank lines, quoting).
func TestPinGeneratorsEditsOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "gen.sh"), []byte("echo x\n"), 0o755)
	policy := `version: 1   # the policy

# keys, with generators
keys:
  BLOCK:
    generator:
      # the script the team reviewed
      command: "./gen.sh"
  FLOW: {max_age: 30d, generator: {command: './gen.sh --n 2'}}
  OLD:
    generator: {sha256: "` + strings.Repeat("0", 64) + `", command: ./gen.sh}
  RANDOM: {generator: {alphabet: hex}}
defaults:
  generator:
    command: ./gen.sh
`
	path := filepath.Join(dir, "sealenv.yaml")
	os.WriteFile(path, []byte(policy), 0o600)
	done, err := PinGenerators(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 4 {
		t.Fatalf("pinned %d generators, want 4: %+v", len(done), done)
	}
	got, _ := os.ReadFile(path)
	p, err := Load(path)
	if err != nil {
		t.Fatalf("the pinned policy does not load: %v\n%s", err, got)
	}
	for _, g := range []*Generator{p.Keys["BLOCK"].Generator, p.Keys["FLOW"].Generator, p.Keys["OLD"].Generator, p.Defaults.Generator} {
		if err := g.Verify(); err != nil {
			t.Errorf("after pin: %v", err)
		}
	}
	// Without the pins (and OLD's stale one), the file is the original,
	// byte for byte.
	strip := regexp.MustCompile(`sha256: "?[0-9a-f]{64}"?(, |\n *)`)
	if strip.ReplaceAllString(string(got), "") != strip.ReplaceAllString(policy, "") {
		t.Errorf("pin changed more than the sha256 entries:\n%s", got)
	}
	if n := strings.Count(string(got), "sha256: "); n != 4 {
		t.Errorf("%d sha256 entries, want 4:\n%s", n, got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("pin changed the file mode to %v", fi.Mode().Perm())
	}
	if _, err := PinGenerators(path, []string{"RANDOM"}); err == nil || !strings.Contains(err.Error(), "no command generator for RANDOM") {
		t.Errorf("pin of a key without a command: %v", err)
	}
}

func TestPinMustBeADigestNextToACommand(t *testing.T) {
	t.Parallel()
	for _, y := range []string{
		"keys:\n  A: {generator: {sha256: abc, command: x}}\n",
		"keys:\n  A: {generator: {sha256: " + strings.Repeat("a", 64) + ", alphabet: hex}}\n",
		"keys:\n  A: {generator: {sha256: " + strings.Repeat("A", 64) + ", command: x}}\n",
	} {
		if _, err := Parse("p.yaml", []byte("version: 1\n"+y)); err == nil || !strings.Contains(err.Error(), "sha256 pins a command") {
			t.Errorf("%q: %v", y, err)
		}
	}
}
