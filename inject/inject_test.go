package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

func TestAppendStringIsJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", `quo"te`, `back\slash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
		"ünïcødé ✓", "bad \xff utf8 \xc3", "/run/secrets/sealenv_age_key", "</script>",
	} {
		out := appendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Errorf("%q encodes to invalid JSON %s: %v", s, out, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

func TestLookPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "exe")
	plain := filepath.Join(dir, "plain")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "plain"), []byte("#!/bin/sh\n"), 0o755)

	for _, tc := range []struct {
		file, path string
		want       string
		code       int
	}{
		{"exe", dir, exe, 0},
		{exe, "", exe, 0},
		{"plain", dir + ":" + other, filepath.Join(other, "plain"), 0}, // skips the non-executable one
		{"plain", dir, "", ExitNotExecutable},
		{plain, "", "", ExitNotExecutable},
		{dir, "", "", ExitNotExecutable},
		{"missing", dir, "", ExitNotFound},
		{filepath.Join(dir, "missing"), "", "", ExitNotFound},
		{filepath.Join(exe, "sub"), "", "", ExitNotFound},
	} {
		got, err := lookPath(tc.file, tc.path)
		if tc.code == 0 {
			if err != nil || got != tc.want {
				t.Errorf("lookPath(%q, %q) = %q, %v; want %q", tc.file, tc.path, got, err, tc.want)
			}
			continue
		}
		if ExitCode(err) != tc.code {
			t.Errorf("lookPath(%q, %q) = %q, %v; want exit %d", tc.file, tc.path, got, err, tc.code)
		}
	}
}

// config returns a Config for in-process tests: the environment is env
// only, output goes to buffers.
func config(stderr *bytes.Buffer, env ...string) *Config {
	c := &Config{Args: []string{"/bin/true"}, Environ: env, Stderr: stderr, Stdout: io.Discard}
	c.defaults()
	return c
}

func TestPlanDoesNotLeakValuesIntoErrors(t *testing.T) {
	t.Parallel()
	key := injecttest.NewKey(t)
	dir := t.TempDir()
	v1, v2 := injecttest.Value(t, "a-"), injecttest.Value(t, "b-")
	b1 := injecttest.Write(t, dir, "one.env", []injecttest.Key{key}, injecttest.Entry{Name: "TOKEN", Value: v1})
	b2 := injecttest.Write(t, dir, "two.yaml", []injecttest.Key{key}, injecttest.Entry{Name: "TOKEN", Value: v2})
	var stderr bytes.Buffer
	c := config(&stderr, seal.EnvAgeKey+"="+key.Text)
	c.Bundles = []string{b1, b2}
	_, err := c.load()
	if err == nil || ExitCode(err) != ExitFailure {
		t.Fatalf("conflict: err = %v, want exit %d", err, ExitFailure)
	}
	if strings.Contains(err.Error(), v1) || strings.Contains(err.Error(), v2) {
		t.Errorf("the error shows a value")
	}
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Error(), "TOKEN") || !strings.Contains(e.Error(), b2) {
		t.Errorf("error %q does not name the key and the bundle", err)
	}
}

func TestPlanScrubsAndReplaces(t *testing.T) {
	t.Parallel()
	// The identity variables are gone from the base environment even when
	// the identity came from elsewhere, and the variables the injector sets
	// replace runtime ones exactly once.
	key := injecttest.NewKey(t)
	v := injecttest.Value(t, "v-")
	bundle := injecttest.Write(t, t.TempDir(), "b.env", []injecttest.Key{key}, injecttest.Entry{Name: "TOKEN", Value: v})
	var stderr bytes.Buffer
	c := config(&stderr, seal.EnvAgeKey+"="+key.Text, "SOPS_AGE_KEY_FILE=/x", "TOKEN=old", "TOKEN=older", "HOME=/root")
	c.Bundles = []string{bundle}
	l, err := c.load()
	if err != nil {
		t.Fatal(err)
	}
	defer l.zero()
	p, err := c.plan(l)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.base) != "[HOME=/root]" {
		t.Errorf("base environment = %v, want only HOME", p.base)
	}
	if len(p.set) != 1 || p.set[0].Name != "TOKEN" || string(p.set[0].Value) != v {
		t.Errorf("set = %d entries, want TOKEN with its sealed value", len(p.set))
	}
	if n := strings.Count(stderr.String(), "warning: TOKEN is set in the environment"); n != 1 {
		t.Errorf("%d warnings about TOKEN, want 1: %s", n, stderr.String())
	}
}

// BenchmarkLoad50 is the injector's own work on a 50-key bundle, in process:
// read the identity and the bundle, decrypt, merge, plan the environment.
// The start benchmark adds the Go runtime's start and the execve.
func BenchmarkLoad50(b *testing.B) {
	key := injecttest.NewKey(b)
	var entries []injecttest.Entry
	for i := range 50 {
		entries = append(entries, injecttest.Entry{Name: fmt.Sprintf("SECRET_%02d", i), Value: injecttest.Value(b, "v-")})
	}
	bundle := injecttest.Write(b, b.TempDir(), "bench.env", []injecttest.Key{key}, entries...)
	var stderr bytes.Buffer
	b.ResetTimer()
	for range b.N {
		stderr.Reset()
		c := config(&stderr, seal.EnvAgeKey+"="+key.Text, "PATH=/usr/bin:/bin")
		c.Bundles = []string{bundle}
		l, err := c.load()
		if err != nil {
			b.Fatal(err)
		}
		p, err := c.plan(l)
		if err != nil {
			b.Fatal(err)
		}
		c.accessLog(l, p, "/bin/true")
		l.zero()
	}
}

func TestForwardedSignals(t *testing.T) {
	t.Parallel()
	for sig, want := range map[syscall.Signal]bool{
		syscall.SIGTERM: true, syscall.SIGINT: true, syscall.SIGHUP: true, syscall.SIGUSR1: true,
		syscall.SIGUSR2: true, syscall.SIGQUIT: true, syscall.SIGWINCH: true, syscall.SIGPIPE: true,
		syscall.SIGCHLD: false, syscall.SIGURG: false,
	} {
		if got := forwarded(sig); got != want {
			t.Errorf("forwarded(%v) = %v, want %v", sig, got, want)
		}
	}
}
