package inject

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// The phases of (*Config).load, one table each; TestLoadPhases runs them
// together on real bundles.

func TestStoreFormat(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		store string   // Config.Store
		env   []string // the environment
		want  seal.Format
		err   string
	}{
		"nothing: each file's own":        {"", nil, 0, ""},
		"the setting":                     {"yaml", nil, seal.FormatYAML, ""},
		"the variable":                    {"", []string{EnvStore + "=json"}, seal.FormatJSON, ""},
		"the setting wins":                {"dotenv", []string{EnvStore + "=json"}, seal.FormatDotenv, ""},
		"an empty variable: none":         {"", []string{EnvStore + "="}, 0, ""},
		"an unknown setting, not echoed":  {"s3cr3t-in-the-wrong-place", nil, 0, "Store: unknown store (want dotenv, yaml or json)"},
		"an unknown variable, not echoed": {"", []string{EnvStore + "=s3cr3t-in-the-wrong-place"}, 0, EnvStore + ": unknown store (want dotenv, yaml or json)"},
	} {
		c := config(&bytes.Buffer{}, tc.env...)
		c.Store = tc.store
		got, err := c.storeFormat()
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || ExitCode(err) != ExitFailure {
				t.Errorf("%s: %v, want %q", name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", name, got, err, tc.want)
		}
	}
}

func TestReadBundles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := injecttest.NewKey(t)
	env := injecttest.Write(t, dir, "a.env", []injecttest.Key{k}, injecttest.Entry{Name: "A", Value: injecttest.Value(t, "a-")})
	yaml := injecttest.Write(t, dir, "b.yaml", []injecttest.Key{k}, injecttest.Entry{Name: "B", Value: injecttest.Value(t, "b-")})
	noName := filepath.Join(dir, "bundle")
	if data, err := os.ReadFile(env); err != nil || os.WriteFile(noName, data, 0o644) != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "bundle.txt")
	if err := os.WriteFile(unknown, []byte("neither a dotenv nor a YAML bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		store string
		paths []string
		want  []seal.Format
		err   string
	}{
		"by name":                       {"", []string{env, yaml}, []seal.Format{seal.FormatDotenv, seal.FormatYAML}, ""},
		"by content":                    {"", []string{noName}, []seal.Format{seal.FormatDotenv}, ""},
		"the store for every file":      {"dotenv", []string{env, noName}, []seal.Format{seal.FormatDotenv, seal.FormatDotenv}, ""},
		"a missing file, path once":     {"", []string{env, filepath.Join(dir, "missing.env")}, nil, filepath.Join(dir, "missing.env") + ": no such file or directory"},
		"a store it cannot tell":        {"", []string{unknown}, nil, "pass Store dotenv|yaml|json or set SEALENV_STORE"},
		"an unknown store before files": {"toml", []string{filepath.Join(dir, "missing.env")}, nil, "Store: unknown store"},
	} {
		c := config(&bytes.Buffer{})
		c.Store = tc.store
		files, err := c.readBundles(tc.paths)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error with %q", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got []seal.Format
		for i, f := range files {
			got = append(got, f.format)
			data, _ := os.ReadFile(tc.paths[i])
			if f.path != tc.paths[i] || !bytes.Equal(f.data, data) {
				t.Errorf("%s: file %d is %s with other bytes", name, i, f.path)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: formats %v, want %v", name, got, tc.want)
		}
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	k := injecttest.NewKey(t)
	missing := filepath.Join(t.TempDir(), "missing")
	for name, tc := range map[string]struct {
		env      []string
		identity string // Config.Identity
		optional bool
		source   string
		warning  string
		err      string
	}{
		"from a variable, with a warning": {[]string{seal.EnvAgeKey + "=" + k.Text}, "", false, seal.EnvAgeKey, "shows in docker inspect", ""},
		"none, optional":                  {nil, "", true, "none", "", ""},
		"none":                            {nil, "", false, "", "", "prod.env: no identity: pass Identity FILE or IdentityFD N"},
		"a file that is not there":        {nil, missing, false, "", "", "prod.env: identity from --identity " + missing + ": no such file or directory"},
		"not an identity":                 {[]string{seal.EnvAgeKey + "=not-a-key"}, "", false, "", "", "prod.env: identity from SEALENV_AGE_KEY: line 1: malformed identity"},
	} {
		var stderr bytes.Buffer
		c := config(&stderr, tc.env...)
		c.Identity, c.IdentityOptional, c.IdentityDefaults = tc.identity, tc.optional, []string{missing}
		found, err := c.identity("prod.env")
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) || ExitCode(err) != ExitFailure {
				t.Errorf("%s: %v, want %q", name, err, tc.err)
			}
			if strings.Contains(err.Error(), "not-a-key") {
				t.Errorf("%s: the error echoes the variable's value", name)
			}
			continue
		}
		if err != nil || found.Source != tc.source {
			t.Errorf("%s: %+v, %v; want the source %q", name, found, err, tc.source)
			continue
		}
		if got := stderr.String(); (tc.warning == "") != (got == "") || !strings.Contains(got, tc.warning) {
			t.Errorf("%s: stderr %q, want %q", name, got, tc.warning)
		}
	}
}

func TestMerger(t *testing.T) {
	t.Parallel()
	type add struct{ path, name, value string }
	for name, tc := range map[string]struct {
		override []string
		adds     []add
		want     []string // NAME=value from, in order
		dup      string   // "NAME earlier" of the first duplicate refused
	}{
		"distinct keys keep their order": {nil, []add{{"a", "X", "1"}, {"b", "Y", "2"}, {"a", "Z", "3"}}, []string{"X=1 a", "Y=2 b", "Z=3 a"}, ""},
		"a duplicate is refused":         {nil, []add{{"a", "X", "1"}, {"b", "X", "2"}}, []string{"X=1 a"}, "X a"},
		"an override: the later wins, in the first place": {[]string{"X"},
			[]add{{"a", "X", "1"}, {"a", "Y", "2"}, {"b", "X", "3"}}, []string{"X=3 b", "Y=2 a"}, ""},
		"an override of another key": {[]string{"Y"}, []add{{"a", "X", "1"}, {"b", "X", "2"}}, []string{"X=1 a"}, "X a"},
		"*: any key":                 {[]string{"*"}, []add{{"a", "X", "1"}, {"b", "X", "2"}, {"c", "X", "3"}}, []string{"X=3 c"}, ""},
		"the latest bundle is named": {[]string{"X"}, []add{{"a", "X", "1"}, {"b", "X", "2"}, {"c", "Y", "3"}},
			[]string{"X=2 b", "Y=3 c"}, ""},
	} {
		m := newMerger(tc.override)
		dup := ""
		for _, a := range tc.adds {
			if earlier, d := m.add(a.path, seal.Secret{Name: a.name, Value: []byte(a.value)}); d {
				dup = a.name + " " + earlier
				break
			}
		}
		var got []string
		for _, s := range m.secrets {
			got = append(got, s.Name+"="+string(s.Value)+" "+m.from[s.Name])
		}
		if !slices.Equal(got, tc.want) || dup != tc.dup {
			t.Errorf("%s: %q (duplicate %q), want %q (duplicate %q)", name, got, dup, tc.want, tc.dup)
		}
	}
}

func TestKeepOnly(t *testing.T) {
	t.Parallel()
	secrets := func(names ...string) []seal.Secret {
		var out []seal.Secret
		for _, n := range names {
			out = append(out, seal.Secret{Name: n, Value: []byte("v")})
		}
		return out
	}
	for name, tc := range map[string]struct {
		only   []string
		merged []string
		want   []string
		err    string
	}{
		"no list: everything":         {nil, []string{"A", "B"}, []string{"A", "B"}, ""},
		"the listed keys, file order": {[]string{"C", "A"}, []string{"A", "B", "C"}, []string{"A", "C"}, ""},
		"a grace value comes along":   {[]string{"A"}, []string{"A", "A" + seal.GraceSuffix, "B", "B" + seal.GraceSuffix}, []string{"A", "A" + seal.GraceSuffix}, ""},
		"a key no bundle has":         {[]string{"A", "Z"}, []string{"A"}, nil, "prod.env: Only Z: no bundle has this key"},
	} {
		c := config(&bytes.Buffer{})
		c.Only = tc.only
		m := newMerger(nil)
		for _, s := range secrets(tc.merged...) {
			m.add("prod.env", s)
		}
		l := &loaded{secrets: m.secrets}
		err := c.keepOnly(l, m, "prod.env")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: %v, want %q", name, err, tc.err)
			}
			continue
		}
		var got []string
		for _, s := range l.secrets {
			got = append(got, s.Name)
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, tc.want)
		}
	}
}

func TestRefuseNames(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		names []string
		allow []string // AllowNames
		only  []string
		err   string
	}{
		"ordinary names":                  {[]string{"DATABASE_URL", "API_TOKEN"}, nil, nil, ""},
		"an identity variable":            {[]string{"API_TOKEN", seal.EnvAgeKey}, nil, nil, "b.env: key " + seal.EnvAgeKey + " is an identity variable and is never passed on"},
		"an identity variable, allowed":   {[]string{seal.EnvAgeKey}, []string{seal.EnvAgeKey}, nil, "a.env: key " + seal.EnvAgeKey + " is an identity variable and is never passed on"},
		"a name that loads code":          {[]string{"LD_PRELOAD"}, nil, nil, "a.env: key LD_PRELOAD could change what code the program loads or runs; pass AllowNames LD_PRELOAD if this is intended"},
		"a name that loads code, allowed": {[]string{"LD_PRELOAD"}, []string{"LD_PRELOAD"}, nil, ""},
		"a redirecting name":              {[]string{"HTTPS_PROXY"}, nil, nil, "a.env: key HTTPS_PROXY could redirect the program's connections or change whom it trusts; pass AllowNames HTTPS_PROXY, or list it among the service's keys (Only HTTPS_PROXY), if this is intended"},
		"a redirecting name, listed":      {[]string{"HTTPS_PROXY"}, nil, []string{"HTTPS_PROXY"}, ""},
	} {
		c := config(&bytes.Buffer{})
		c.AllowNames, c.Only = tc.allow, tc.only
		m := newMerger(nil)
		for i, n := range tc.names {
			m.add(map[bool]string{true: "a.env", false: "b.env"}[i == 0], seal.Secret{Name: n})
		}
		err := c.refuseNames(&loaded{secrets: m.secrets}, m)
		if (err == nil) != (tc.err == "") || (err != nil && (err.Error() != tc.err || ExitCode(err) != ExitFailure)) {
			t.Errorf("%s: %v, want %q", name, err, tc.err)
		}
	}
}

// TestLoadPhases: the phases in their order on real bundles. A missing
// second bundle stops the start before any identity is read; two bundles
// merge with an override; a grace value past its grace is dropped and
// named.
func TestLoadPhases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := injecttest.NewKey(t)
	first, second := injecttest.Value(t, "one-"), injecttest.Value(t, "two-")
	a := injecttest.Write(t, dir, "a.env", []injecttest.Key{k}, injecttest.Entry{Name: "SHARED", Value: first}, injecttest.Entry{Name: "ONLY_A", Value: first})
	b := injecttest.Write(t, dir, "b.env", []injecttest.Key{k}, injecttest.Entry{Name: "SHARED", Value: second},
		injecttest.Entry{Name: "ROTATED", Value: injecttest.Value(t, "old-"), Next: second, Grace: time.Hour, Age: 2 * time.Hour})

	c := config(&bytes.Buffer{}) // no identity anywhere
	c.Bundles, c.IdentityDefaults = []string{a, filepath.Join(dir, "missing.env")}, []string{filepath.Join(dir, "no-key")}
	if _, err := c.load(); err == nil || !strings.Contains(err.Error(), "missing.env: no such file") {
		t.Errorf("a missing second bundle: %v, want it named before the identity", err)
	}

	c = config(&bytes.Buffer{}, seal.EnvAgeKey+"="+k.Text)
	c.Bundles = []string{a, b}
	if _, err := c.load(); err == nil || !strings.Contains(err.Error(), "key SHARED is also in "+a) {
		t.Errorf("a duplicate key: %v", err)
	}
	c.Override = []string{"SHARED"}
	l, err := c.load()
	if err != nil {
		t.Fatal(err)
	}
	defer l.zero()
	var got []string
	for _, s := range l.secrets {
		got = append(got, s.Name)
		if want := map[string]string{"SHARED": second, "ONLY_A": first, "ROTATED": second}[s.Name]; string(s.Value) != want {
			t.Errorf("%s does not have the value of its last bundle", s.Name)
		}
	}
	if !slices.Equal(got, []string{"SHARED", "ONLY_A", "ROTATED"}) || len(l.bundles) != 2 || l.source != seal.EnvAgeKey {
		t.Errorf("secrets %v, %d bundles, source %q", got, len(l.bundles), l.source)
	}
	if !slices.Equal(l.bundles[0].Keys, []string{"SHARED", "ONLY_A"}) || !slices.Equal(l.bundles[1].Keys, []string{"SHARED", "ROTATED"}) {
		t.Errorf("the access line's keys: %v, %v", l.bundles[0].Keys, l.bundles[1].Keys)
	}
	if !slices.Equal(l.expired, []string{"ROTATED" + seal.GraceSuffix}) {
		t.Errorf("expired %v, want the grace value past its grace", l.expired)
	}
}
