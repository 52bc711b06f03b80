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

// allow_short accepts short values per key (keys and defaults, every
// environment) and per environment (every key, or the keys listed).
func TestAllowShort(t *testing.T) {
	const r = "{key: age1lw7rplmgej8qdx7drd8wz234y5speyqz95e4v6uvj056p498ngsq2943cj}"
	p, err := policies.Parse("sealenv.yaml", []byte(`version: 1
environments:
  - {name: prod, bundle: p.env, recipients: [`+r+`]}
  - {name: dev, bundle: d.env, recipients: [`+r+`], allow_short: true}
  - {name: stage, bundle: s.env, recipients: [`+r+`], allow_short: [PIN]}
keys:
  CODE: {allow_short: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := func(n string) *policies.Environment {
		e, err := p.Env(n)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, c := range []struct {
		env  *policies.Environment
		key  string
		want bool
	}{
		{env("prod"), "PIN", false}, {env("prod"), "CODE", true},
		{env("dev"), "PIN", true}, {env("dev"), "OTHER", true},
		{env("stage"), "PIN", true}, {env("stage"), "OTHER", false},
		{nil, "PIN", false}, {nil, "CODE", true},
	} {
		name := "no environment"
		if c.env != nil {
			name = c.env.Name
		}
		if got := p.AllowShort(c.env, c.key); got != c.want {
			t.Errorf("%s %s: %v, want %v", name, c.key, got, c.want)
		}
	}
	d, err := policies.Parse("sealenv.yaml", []byte("version: 1\nenvironments:\n  - {name: prod, bundle: p.env, recipients: ["+r+"]}\ndefaults: {allow_short: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.AllowShort(nil, "ANY") || !d.AllowShort(&d.Environments[0], "ANY") {
		t.Error("defaults: allow_short does not apply to every key")
	}
}
