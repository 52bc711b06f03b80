package inject

import (
	"bytes"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// TestUsageDocumentsEveryFlag: the one usage text names every declared flag,
// and declares no flag it does not name.
func TestUsageDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	u := Usage("sealenv-inject")
	declared := map[string]bool{}
	NewFlagSet("x", &Config{}).VisitAll(func(f *flag.Flag) {
		declared[f.Name] = true
		if !strings.Contains(u, "  --"+f.Name+" ") && !strings.Contains(u, "  --"+f.Name+"\n") {
			t.Errorf("usage does not document --%s", f.Name)
		}
	})
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z-]+)`).FindAllStringSubmatch(u, -1) {
		if !declared[m[1]] {
			t.Errorf("usage documents --%s, which is not declared", m[1])
		}
	}
	for s, name := range flagNames {
		if !declared[name] {
			t.Errorf("setting %s maps to --%s, which is not declared", s, name)
		}
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	var c Config
	err := c.ParseArgs("sealenv-inject", []string{"--bundle", "a.env", "--bundle", "b.env", "--only", "K", "--redact", "--identity-fd", "3", "--", "/bin/app", "--port=1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Bundles, ",") != "a.env,b.env" || strings.Join(c.Only, ",") != "K" || !c.Redact || c.IdentityFD != 3 || !c.IdentityFromFD ||
		strings.Join(c.Args, " ") != "/bin/app --port=1" || c.Prog != "sealenv-inject" {
		t.Errorf("parsed %+v", c)
	}
	c = Config{}
	if err := c.ParseArgs("p", []string{"--", "true"}); err != nil || c.IdentityFromFD {
		t.Errorf("without --identity-fd: IdentityFromFD = %v, %v; want false", c.IdentityFromFD, err)
	}
	c = Config{}
	if err := c.ParseArgs("p", []string{"--identity-fd", "-1", "--", "true"}); err != nil || !c.IdentityFromFD || c.IdentityFD != -1 {
		t.Errorf("--identity-fd -1: IdentityFromFD = %v, IdentityFD = %d, %v; want it given, to fail as a bad descriptor", c.IdentityFromFD, c.IdentityFD, err)
	}
	if err := (&Config{}).ParseArgs("p", []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if err := (&Config{}).ParseArgs("p", []string{"--bundle", "b.env"}); err == nil || ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "no command") {
		t.Errorf("no command: %v", err)
	}
}

// TestParseArgsNeverEchoesValues: a secret typed where a flag or a number
// was expected does not come back in the error.
func TestParseArgsNeverEchoesValues(t *testing.T) {
	t.Parallel()
	secret := injecttest.NewKey(t).Text
	for _, args := range [][]string{
		{"--identity-fd", secret, "--", "true"},
		{"--identity-fd=" + secret, "--", "true"},
		{"--redact=" + secret, "--", "true"},
		{"-" + secret, "--", "true"},
		{"--identity-fd", "x for flag -y: " + secret, "--", "true"},
	} {
		err := (&Config{}).ParseArgs("p", args)
		if err == nil || ExitCode(err) != ExitFailure {
			t.Errorf("%d args: err = %v, want exit %d", len(args), err, ExitFailure)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "AGE-SECRET") {
			t.Errorf("the error repeats the value")
		}
	}
	err := (&Config{}).ParseArgs("p", []string{"--identity-fd", "three", "--", "true"})
	if err == nil || err.Error() != "invalid value for --identity-fd" {
		t.Errorf("err = %v", err)
	}
	err = (&Config{}).ParseArgs("p", []string{"--bogus", "--", "true"})
	if err == nil || err.Error() != "unknown flag --bogus" {
		t.Errorf("err = %v", err)
	}
}

// TestLibraryErrorsNameNoFlags: without Describe, messages name settings;
// with the flag set's, they name flags.
func TestLibraryErrorsNameNoFlags(t *testing.T) {
	t.Parallel()
	key := injecttest.NewKey(t)
	dir := t.TempDir()
	b1 := injecttest.Write(t, dir, "one.env", []injecttest.Key{key}, injecttest.Entry{Name: "TOKEN", Value: injecttest.Value(t, "a-")})
	b2 := injecttest.Write(t, dir, "two.env", []injecttest.Key{key}, injecttest.Entry{Name: "TOKEN", Value: injecttest.Value(t, "b-")})
	pre := injecttest.Write(t, dir, "pre.env", []injecttest.Key{key}, injecttest.Entry{Name: "LD_PRELOAD", Value: "/x.so"})
	for _, tc := range []struct {
		name    string
		set     func(c *Config)
		setting string
		flag    string
	}{
		{"conflict", func(c *Config) { c.Bundles = []string{b1, b2} }, "pass Override TOKEN", "pass --override TOKEN"},
		{"dangerous", func(c *Config) { c.Bundles = []string{pre} }, "pass AllowNames LD_PRELOAD", "pass --allow-name LD_PRELOAD"},
		{"only", func(c *Config) { c.Bundles = []string{b1}; c.Only = []string{"NOPE"} }, "Only NOPE: no bundle", "--only NOPE: no bundle"},
		{"no identity", func(c *Config) { c.Bundles = []string{b1}; c.Environ = []string{}; c.IdentityDefaults = []string{} }, "pass Identity FILE or IdentityFD N", "pass --identity FILE or --identity-fd N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, describe := range []bool{false, true} {
				var stderr bytes.Buffer
				c := config(&stderr, seal.EnvAgeKey+"="+key.Text)
				tc.set(c)
				want := tc.setting
				if describe {
					c.Describe, want = describeFlag, tc.flag
				}
				_, err := c.load()
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("describe=%v: err = %v, want %q", describe, err, want)
				}
				if !describe && strings.Contains(err.Error(), "--") {
					t.Errorf("a library error names a flag: %v", err)
				}
			}
		})
	}
}
