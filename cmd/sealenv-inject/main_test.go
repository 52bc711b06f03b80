package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// safety bounds a test that would otherwise hang on a bug; no test asserts
// anything about time.
const safety = 60 * time.Second

func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is a bundle and the key that opens it.
type fixture struct {
	key    injecttest.Key
	bundle string
	values map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{key: injecttest.NewKey(t), values: map[string]string{
		"DB_PASSWORD": injecttest.Value(t, "pw-"),
		"API_TOKEN":   injecttest.Value(t, "tok-"),
	}}
	f.bundle = injecttest.Write(t, t.TempDir(), "prod.env", []injecttest.Key{f.key},
		injecttest.Entry{Name: "DB_PASSWORD", Value: f.values["DB_PASSWORD"]},
		injecttest.Entry{Name: "API_TOKEN", Value: f.values["API_TOKEN"]},
	)
	return f
}

// env is the injector's environment: PATH and the given entries only, so
// nothing of the test runner's environment leaks in.
func env(kv ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, kv...)
}

// injectCmd returns the injector running helper role with args.
func injectCmd(t *testing.T, ctx context.Context, environ []string, flags []string, role string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append([]string{"-sealenv-inject"}, flags...)
	argv = append(argv, "--", self(t), "-sealenv-helper", role)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, self(t), argv...)
	cmd.Env = environ
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

func runInject(t *testing.T, environ []string, flags []string, role string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := injectCmd(t, ctx, environ, flags, role, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			t.Fatalf("injector killed by %v", ws.Signal())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// noValues fails if any value shows in s; it never prints the value.
func noValues(t *testing.T, what, s string, values map[string]string) {
	t.Helper()
	for name, v := range values {
		if strings.Contains(s, v) {
			t.Errorf("%s contains the value of %s", what, name)
		}
	}
}

func parseReport(t *testing.T, stdout string) report {
	t.Helper()
	var r report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("child report is not JSON: %v", err)
	}
	return r
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// accessLine returns the one JSON line of stderr.
func accessLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if found != nil {
			t.Fatalf("more than one access line")
		}
		if err := json.Unmarshal([]byte(line), &found); err != nil {
			t.Fatalf("access line is not JSON: %v", err)
		}
	}
	if found == nil {
		t.Fatalf("no access line on stderr")
	}
	return found
}

func TestChildEnvironmentAndIdentityScrub(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := injecttest.NewKey(t)
	environ := env(
		"SEALENV_BUNDLE="+f.bundle,
		"SEALENV_AGE_KEY="+f.key.Text,
		"SEALENV_AGE_KEY_FILE=/nonexistent/key",
		"SOPS_AGE_KEY="+other.Text,
		"SOPS_AGE_KEY_FILE=/nonexistent/sops-key",
		"SEALENV_SIGN_KEY=/nonexistent/signing-key",
		"KEEP_ME=yes",
	)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := injectCmd(t, ctx, environ, nil, "wait")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, bufio.NewReader(stdout)); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	// Exec mode: the injector's pid is now the child's.
	raw, err := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	got := envMap(strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00"))
	for _, v := range seal.IdentityEnvVars() {
		if _, ok := got[v]; ok {
			t.Errorf("%s is in /proc/<child>/environ", v)
		}
	}
	for name, v := range f.values {
		if got[name] != v {
			t.Errorf("child's %s is not the sealed value", name)
		}
	}
	if got["KEEP_ME"] != "yes" || got["SEALENV_BUNDLE"] != f.bundle {
		t.Errorf("child lost runtime variables: KEEP_ME=%q SEALENV_BUNDLE=%q", got["KEEP_ME"], got["SEALENV_BUNDLE"])
	}
	if n := strings.Count(stderr.String(), "warning: the identity came from SEALENV_AGE_KEY"); n != 1 {
		t.Errorf("want one warning about the key in the environment, got %d in:\n%s", n, stderr.String())
	}
	noValues(t, "stderr", stderr.String(), f.values)
	if strings.Contains(stderr.String(), f.key.Text) {
		t.Errorf("stderr contains the identity")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAccessLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := runInject(t, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", f.bundle}, "exit", "0")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	noValues(t, "stderr", r.stderr, f.values)
	line := accessLine(t, r.stderr)
	data, _ := os.ReadFile(f.bundle)
	sum := sha256.Sum256(data)
	bundles := line["bundles"].([]any)
	b := bundles[0].(map[string]any)
	if b["path"] != f.bundle || b["sha256"] != hex.EncodeToString(sum[:]) || b["recipient"] != f.key.Recipient {
		t.Errorf("bundle entry = %v; want path, digest and matched recipient", b)
	}
	keys := line["keys"].([]any)
	if len(keys) != 2 || keys[0] != "DB_PASSWORD" || keys[1] != "API_TOKEN" {
		t.Errorf("keys = %v", keys)
	}
	for _, field := range []string{"time", "decrypt_ms", "identity", "mode", "command"} {
		if _, ok := line[field]; !ok {
			t.Errorf("access line has no %q", field)
		}
	}

	r = runInject(t, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", f.bundle, "--no-access-log"}, "exit", "0")
	if strings.Contains(r.stderr, "{") {
		t.Errorf("--no-access-log still printed: %s", r.stderr)
	}
}

func TestIdentitySources(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"identity-fd", []string{"--identity-fd", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			cmd := injectCmd(t, ctx, env(), append(tc.flags, "--bundle", f.bundle), "report")
			// The identity travels through a pipe: never through a file on disk.
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.ExtraFiles = []*os.File{pr}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pr.Close()
			pw.WriteString(f.key.Text + "\n")
			pw.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			rep := parseReport(t, stdout.String())
			got := envMap(rep.Environ)
			if got["DB_PASSWORD"] != f.values["DB_PASSWORD"] {
				t.Errorf("child did not get DB_PASSWORD")
			}
			if target := rep.FDs[3]; tc.name == "identity-fd" && strings.HasPrefix(target, "pipe:") {
				t.Errorf("the identity pipe leaked into the child as fd 3")
			}
			if strings.Contains(stderr.String(), "warning") {
				t.Errorf("unexpected warning: %s", stderr.String())
			}
		})
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	wrong := injecttest.NewKey(t)
	key := seal.EnvAgeKey + "=" + f.key.Text

	data, err := os.ReadFile(f.bundle)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(name string, edit func(line string) string) string {
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			out = append(out, edit(line))
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644)
		return p
	}
	flip := func(s string, at int) string {
		b := []byte(s)
		if b[at] == 'A' {
			b[at] = 'B'
		} else {
			b[at] = 'A'
		}
		return string(b)
	}
	badMAC := tamper("badmac.env", func(l string) string {
		if strings.HasPrefix(l, "sops_mac=ENC[AES256_GCM,data:") {
			return flip(l, len("sops_mac=ENC[AES256_GCM,data:")+3)
		}
		return l
	})
	badValue := tamper("badvalue.env", func(l string) string {
		if strings.HasPrefix(l, "DB_PASSWORD=ENC[AES256_GCM,data:") {
			return flip(l, len("DB_PASSWORD=ENC[AES256_GCM,data:")+3)
		}
		return l
	})
	malformed := filepath.Join(dir, "malformed.env")
	os.WriteFile(malformed, []byte("DB_PASSWORD=plain\n"), 0o644)
	second := injecttest.Write(t, dir, "second.env", []injecttest.Key{f.key}, injecttest.Entry{Name: "API_TOKEN", Value: injecttest.Value(t, "tok2-")})
	preload := injecttest.Write(t, dir, "preload.env", []injecttest.Key{f.key}, injecttest.Entry{Name: "LD_PRELOAD", Value: "/tmp/evil.so"})
	path := injecttest.Write(t, dir, "path.env", []injecttest.Key{f.key}, injecttest.Entry{Name: "PATH", Value: "/tmp/evil"})
	idvar := injecttest.Write(t, dir, "idvar.env", []injecttest.Key{f.key}, injecttest.Entry{Name: "SOPS_AGE_KEY_FILE", Value: "/tmp/x"})

	for _, tc := range []struct {
		name    string
		environ []string
		flags   []string
		want    []string // substrings of the one error line
	}{
		{"no identity", env(), []string{"--bundle", f.bundle}, []string{f.bundle, "no identity"}},
		{"wrong identity", env(seal.EnvAgeKey + "=" + wrong.Text), []string{"--bundle", f.bundle}, []string{f.bundle, "no identity matches"}},
		{"bad identity text", env(seal.EnvAgeKey + "=AGE-SECRET-KEY-1NOPE"), []string{"--bundle", f.bundle}, []string{"SEALENV_AGE_KEY", "malformed identity"}},
		{"tampered MAC", env(key), []string{"--bundle", badMAC}, []string{badMAC, "MAC"}},
		{"tampered value", env(key), []string{"--bundle", badValue}, []string{badValue, "DB_PASSWORD", "authentication"}},
		{"not sealed", env(key), []string{"--bundle", malformed}, []string{malformed, "not sealed"}},
		{"missing bundle", env(key), []string{"--bundle", filepath.Join(dir, "nope.env")}, []string{"nope.env", "no such file"}},
		{"empty SEALENV_BUNDLE entry", env(key, "SEALENV_BUNDLE="+f.bundle+"::"+second), nil, []string{"SEALENV_BUNDLE", "empty path"}},
		{"name conflict", env(key), []string{"--bundle", f.bundle, "--bundle", second}, []string{second, "API_TOKEN", "--override"}},
		{"LD_PRELOAD", env(key), []string{"--bundle", preload}, []string{preload, "LD_PRELOAD", "--allow-name"}},
		{"PATH", env(key), []string{"--bundle", path}, []string{path, "PATH"}},
		{"identity variable in bundle", env(key), []string{"--bundle", idvar, "--allow-name", "SOPS_AGE_KEY_FILE"}, []string{idvar, "SOPS_AGE_KEY_FILE", "identity variable"}},
		{"file of unknown key", env(key), []string{"--bundle", f.bundle, "--file", "NOPE"}, []string{"--file NOPE", "no such key"}},
		{"conflicting identity flags", env(key), []string{"--bundle", f.bundle, "--identity", "/x", "--identity-fd", "3"}, []string{"mutually exclusive"}},
		{"unknown flag", env(key), []string{"--bogus"}, []string{"bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(inject.DefaultIdentityFile); err == nil && tc.name == "no identity" {
				t.Skipf("%s exists on this machine", inject.DefaultIdentityFile)
			}
			r := runInject(t, tc.environ, tc.flags, "exit", "0")
			if r.code != inject.ExitFailure {
				t.Errorf("exit %d, want %d", r.code, inject.ExitFailure)
			}
			if r.stdout != "" {
				t.Errorf("the command ran: stdout %q", r.stdout)
			}
			errLine := errorLine(t, r.stderr)
			for _, w := range tc.want {
				if !strings.Contains(errLine, w) {
					t.Errorf("error %q does not mention %q", errLine, w)
				}
			}
			noValues(t, "stderr", r.stderr, f.values)
			if strings.Contains(r.stderr, f.key.Text) || strings.Contains(r.stderr, "/tmp/evil") {
				t.Errorf("stderr shows a key or a value: %q", r.stderr)
			}
		})
	}
}

func TestMissingDefaultBundle(t *testing.T) {
	t.Parallel()
	for _, p := range inject.DefaultBundles() {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists on this machine", p)
		}
	}
	f := newFixture(t)
	r := runInject(t, env(seal.EnvAgeKey+"="+f.key.Text), nil, "exit", "0")
	if r.code != inject.ExitFailure || !strings.Contains(r.stderr, inject.DefaultBundles()[0]) {
		t.Errorf("exit %d, stderr %q; want 125 naming the default path", r.code, r.stderr)
	}
}

func TestMergeOverrideAndPrecedence(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	later := injecttest.Value(t, "tok2-")
	extra := injecttest.Value(t, "x-")
	second := injecttest.Write(t, dir, "second.yaml", []injecttest.Key{f.key},
		injecttest.Entry{Name: "API_TOKEN", Value: later},
		injecttest.Entry{Name: "EXTRA", Value: extra},
		injecttest.Entry{Name: "NODE_OPTIONS", Value: "--max-old-space-size=64"},
		injecttest.Entry{Name: "OLD_TOKEN", Value: injecttest.Value(t, "old-"), Grace: time.Hour, Age: 2 * time.Hour, Next: injecttest.Value(t, "new-")},
	)
	environ := env(seal.EnvAgeKey+"="+f.key.Text, "DB_PASSWORD=from-runtime", "EXTRA=from-runtime")
	flags := []string{"--bundle", f.bundle, "--bundle", second, "--override", "API_TOKEN",
		"--allow-env-override", "EXTRA", "--allow-name", "NODE_OPTIONS"}
	r := runInject(t, environ, flags, "report")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := envMap(parseReport(t, r.stdout).Environ)
	if got["API_TOKEN"] != later {
		t.Errorf("--override API_TOKEN: the later bundle did not win")
	}
	if got["DB_PASSWORD"] != f.values["DB_PASSWORD"] {
		t.Errorf("DB_PASSWORD: the sealed value should win over the runtime one by default")
	}
	if !strings.Contains(r.stderr, "warning: DB_PASSWORD is set in the environment and is replaced") {
		t.Errorf("no warning naming DB_PASSWORD: %s", r.stderr)
	}
	if got["EXTRA"] != "from-runtime" {
		t.Errorf("--allow-env-override EXTRA: the runtime value did not win")
	}
	if got["NODE_OPTIONS"] != "--max-old-space-size=64" {
		t.Errorf("--allow-name NODE_OPTIONS: not set")
	}
	if _, ok := got["OLD_TOKEN"+seal.GraceSuffix]; ok {
		t.Errorf("an expired grace value was injected")
	}
	if _, ok := got["OLD_TOKEN"]; !ok {
		t.Errorf("the rotated value is missing")
	}
	line := accessLine(t, r.stderr)
	if exp, _ := line["expired"].([]any); len(exp) != 1 || exp[0] != "OLD_TOKEN"+seal.GraceSuffix {
		t.Errorf("access line expired = %v", line["expired"])
	}
	noValues(t, "stderr", r.stderr, map[string]string{"API_TOKEN": later, "EXTRA": extra})
}

func TestFileDelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, mode := range [][]string{nil, {"--supervise"}, {"--redact"}} {
		t.Run("mode "+strings.Join(mode, ""), func(t *testing.T) {
			flags := append([]string{"--bundle", f.bundle, "--file", "DB_PASSWORD", "--file", "API_TOKEN=TOKEN_FILE"}, mode...)
			r := runInject(t, env(seal.EnvAgeKey+"="+f.key.Text), flags, "report")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			rep := parseReport(t, r.stdout)
			got := envMap(rep.Environ)
			for _, c := range []struct{ name, v string }{{"DB_PASSWORD", "DB_PASSWORD_FILE"}, {"API_TOKEN", "TOKEN_FILE"}} {
				if _, ok := got[c.name]; ok {
					t.Errorf("%s is in the environment although delivered as a file", c.name)
				}
				if !strings.HasPrefix(got[c.v], "/proc/self/fd/") {
					t.Errorf("%s = %q, want /proc/self/fd/N", c.v, got[c.v])
				}
				sum := sha256.Sum256([]byte(f.values[c.name]))
				if rep.Files[c.v] != hex.EncodeToString(sum[:]) {
					t.Errorf("content of %s is not the value of %s (%s)", c.v, c.name, rep.Files[c.v])
				}
				if !rep.Sealed[c.v] {
					t.Errorf("the file of %s is writable", c.name)
				}
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	noFormat := filepath.Join(dir, "garbage")
	os.WriteFile(noFormat, []byte{0x7f, 'E', 'L', 'F', 0, 1, 2}, 0o755)
	key := env(seal.EnvAgeKey + "=" + f.key.Text)
	base := []string{"--bundle", f.bundle, "--no-access-log"}
	for _, tc := range []struct {
		name  string
		flags []string
		role  string
		args  []string
		want  int
	}{
		{"exec exit 0", nil, "exit", []string{"0"}, 0},
		{"exec exit 1", nil, "exit", []string{"1"}, 1},
		{"supervise exit 0", []string{"--supervise"}, "exit", []string{"0"}, 0},
		{"supervise exit 1", []string{"--supervise"}, "exit", []string{"1"}, 1},
		{"supervise exit 42", []string{"--supervise"}, "exit", []string{"42"}, 42},
		{"supervise killed by SIGKILL", []string{"--supervise"}, "killself", []string{"9"}, 128 + 9},
		{"redact killed by SIGHUP", []string{"--redact"}, "killself", []string{"1"}, 128 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runInject(t, key, append(base, tc.flags...), tc.role, tc.args...)
			if r.code != tc.want {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.want, r.stderr)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cmd  string
		mode []string
		want int
	}{
		{"not found", "no-such-command-sealenv", nil, inject.ExitNotFound},
		{"not found path", filepath.Join(dir, "missing"), nil, inject.ExitNotFound},
		{"not executable", notExec, nil, inject.ExitNotExecutable},
		{"exec format error", noFormat, nil, inject.ExitNotExecutable},
		{"exec format error supervised", noFormat, []string{"--supervise"}, inject.ExitNotExecutable},
		{"directory", dir, nil, inject.ExitNotExecutable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			cmd := exec.CommandContext(ctx, self(t), append(append([]string{"-sealenv-inject"}, append(base, tc.mode...)...), "--", tc.cmd)...)
			cmd.Env = key
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.want {
				t.Errorf("got %v, want exit %d; stderr %q", err, tc.want, stderr.String())
			}
			errorLine(t, stderr.String())
		})
	}
}

func TestSuperviseForwardsSignals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := injectCmd(t, ctx, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", f.bundle, "--supervise", "--no-access-log"}, "signals")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line := readLine(t, out); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if line := readLine(t, out); line != sig.String() {
			t.Fatalf("sent %v to the injector; the child reported %q", sig, line)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("injector: %v; stderr %q", err, stderr.String())
	}
}

func TestSuperviseExitsWithSignal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		mode string
		sig  syscall.Signal
	}{{"--supervise", syscall.SIGTERM}, {"--supervise", syscall.SIGINT}, {"--redact", syscall.SIGTERM}, {"--redact", syscall.SIGHUP}} {
		sig := tc.sig
		t.Run(tc.mode+" "+sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			cmd := injectCmd(t, ctx, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", f.bundle, tc.mode, "--no-access-log"}, "sleep")
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if line := readLine(t, bufio.NewReader(stdout)); line != "ready" {
				t.Fatalf("child said %q", line)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Errorf("got %v, want exit %d", err, 128+int(sig))
			}
		})
	}
}

// TestSuperviseReapsZombies is not parallel: it makes the whole test
// process a child subreaper while it runs.
func TestSuperviseReapsZombies(t *testing.T) {
	// Make this test process a subreaper too, so that an orphan the
	// injector fails to adopt comes to us, and we never reap it: it would
	// stay a zombie instead of going to a PID 1 that reaps it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	f := newFixture(t)
	r := runInject(t, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", f.bundle, "--supervise", "--no-access-log"}, "zombie")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "reaped" {
		t.Errorf("exit %d, child said %q; want the orphaned grandchild reaped", r.code, r.stdout)
	}
}

func TestRedactSplitWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := injectCmd(t, ctx, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", f.bundle, "--redact", "--no-access-log"}, "drip", "DB_PASSWORD", "API_TOKEN")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read until the prompt, which has no newline: it must come through
	// while the child still runs.
	var seen []byte
	buf := make([]byte, 1)
	for !bytes.HasSuffix(seen, []byte("prompt> ")) {
		if _, err := stdout.Read(buf); err != nil {
			t.Fatalf("stdout ended before the prompt: %v", err)
		}
		seen = append(seen, buf[0])
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	want := "value of DB_PASSWORD: [REDACTED:DB_PASSWORD]\nvalue of API_TOKEN: [REDACTED:API_TOKEN]\n"
	if string(seen) != want+"prompt> " {
		t.Errorf("stdout = %q, want %q", noSecrets(string(seen), f.values), want+"prompt> ")
	}
	if got := childStderr(stderr.String()); got != want {
		t.Errorf("stderr = %q, want %q", noSecrets(got, f.values), want)
	}
}

// childStderr drops the injector's own lines (the warning about a key in the
// environment) from stderr.
func childStderr(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "sealenv-inject: ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// errorLine returns the one error line of stderr; every other line must be a
// warning or a hint.
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	var errLine string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		switch {
		case strings.HasPrefix(l, "sealenv-inject: error: "):
			if errLine != "" {
				t.Errorf("more than one error line: %q", stderr)
			}
			errLine = l
		case strings.HasPrefix(l, "sealenv-inject: warning: "), strings.HasPrefix(l, "sealenv-inject: hint: "):
		default:
			t.Errorf("unexpected line on stderr: %q", l)
		}
	}
	if errLine == "" {
		t.Fatalf("no error line on stderr: %q", stderr)
	}
	return errLine
}

// noSecrets masks values before a string goes into a failure message.
func noSecrets(s string, values map[string]string) string {
	for name, v := range values {
		s = strings.ReplaceAll(s, v, "<value of "+name+">")
	}
	return s
}

// TestDependencyFence keeps the slim entrypoint slim: it must never link the
// sops/v3 library (and its cloud SDKs), BuildKit, go-containerregistry or the
// full CLI's urfave/cli.
func TestDependencyFence(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/sealenv/sealenv/seal") {
		t.Fatalf("go list -deps does not list the seal package; is the output right?\n%s", out)
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/getsops/", "github.com/moby/buildkit", "github.com/google/go-containerregistry", "github.com/urfave/cli", "github.com/sealenv/sealenv/seal/author", "github.com/sealenv/sealenv/internal/fingerprint"} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("sealenv-inject depends on %s", d)
			}
		}
	}
}

func TestHelpIsTheSharedUsage(t *testing.T) {
	for _, h := range []string{"-h", "--help"} {
		var stderr bytes.Buffer
		if code := run([]string{h}, &stderr); code != 0 || stderr.String() != inject.Usage("sealenv-inject") {
			t.Errorf("%s: exit %d, output %q", h, code, stderr.String())
		}
	}
}

// TestAccessLineNamesTheRecipientThatOpened: SOPS does not authenticate a
// stanza's recipient label, so anyone can rewrite it without breaking the
// bundle. The access line names the recipient of the identity that opened
// the data key, and the digest of the bytes that were opened; a forged
// label never reaches the log.
func TestAccessLineNamesTheRecipientThatOpened(t *testing.T) {
	t.Parallel()
	k1, k2, claimed := injecttest.NewKey(t), injecttest.NewKey(t), injecttest.NewKey(t)
	value := injecttest.Value(t, "v-")
	dir := t.TempDir()
	orig := injecttest.Write(t, dir, "two.env", []injecttest.Key{k1, k2}, injecttest.Entry{Name: "TOKEN", Value: value})
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	// Swap the two labels, then name a third, unrelated recipient.
	forge := func(name string, labels map[string]string) string {
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(line, "=")
			if to, ok := labels[v]; ok && strings.HasSuffix(k, "__map_recipient") {
				line = k + "=" + to
			}
			out = append(out, line)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	swapped := forge("swapped.env", map[string]string{k1.Recipient: k2.Recipient, k2.Recipient: k1.Recipient})
	third := forge("third.env", map[string]string{k1.Recipient: claimed.Recipient, k2.Recipient: claimed.Recipient})
	for _, tc := range []struct {
		name, bundle string
		id           injecttest.Key
		forged       string
	}{
		{"swapped labels, k2 opens", swapped, k2, k1.Recipient},
		{"swapped labels, k1 opens", swapped, k1, k2.Recipient},
		{"labels name a third key", third, k2, claimed.Recipient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runInject(t, env(seal.EnvAgeKey+"="+tc.id.Text), []string{"--bundle", tc.bundle}, "exit", "0")
			if r.code != 0 {
				t.Fatalf("the forged label broke the bundle: exit %d: %s", r.code, r.stderr)
			}
			if strings.Contains(r.stderr, tc.forged) {
				t.Errorf("the forged label %s reached stderr", tc.forged)
			}
			b := accessLine(t, r.stderr)["bundles"].([]any)[0].(map[string]any)
			opened, _ := os.ReadFile(tc.bundle)
			sum := sha256.Sum256(opened)
			if b["recipient"] != tc.id.Recipient {
				t.Errorf("recipient = %v, want the opener %s", b["recipient"], tc.id.Recipient)
			}
			if b["sha256"] != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 = %v, want the digest of the bytes opened", b["sha256"])
			}
			noValues(t, "stderr", r.stderr, map[string]string{"TOKEN": value})
		})
	}
}

// TestDependencyCount: the injector's non-standard packages come only from
// age, x/crypto, x/sys, yaml.v3 and this module's slim packages, and their
// number does not grow unnoticed (raise the budget only with a reason in
// the commit).
func TestDependencyCount(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const budget = 28 // 26: internal/fserr replaced internal/fsutil and internal/duration (issue 23); 27: internal/match (the redactor shared with the audit); 28: internal/keyenv (the key variables out of /proc/1/environ, shared with sealenv); all stdlib-only
	deps := strings.Fields(string(out))
	allowed := []string{"filippo.io/age", "filippo.io/hpke", "golang.org/x/crypto/", "golang.org/x/sys/", "gopkg.in/yaml.v3",
		"github.com/sealenv/sealenv/seal", "github.com/sealenv/sealenv/inject", "github.com/sealenv/sealenv/internal/fserr",
		"github.com/sealenv/sealenv/internal/version", "github.com/sealenv/sealenv/internal/match",
		"github.com/sealenv/sealenv/internal/keyenv",
		"github.com/sealenv/sealenv/cmd/sealenv-inject"}
	for _, d := range deps {
		ok := false
		for _, a := range allowed {
			if d == a || strings.HasPrefix(d, strings.TrimSuffix(a, "/")+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("sealenv-inject depends on %s, which is not on the slim list", d)
		}
	}
	if len(deps) > budget {
		t.Errorf("sealenv-inject has %d non-standard packages, over its budget of %d:\n%s", len(deps), budget, out)
	}
}

// TestStrippedSize: the slim injector, built as it ships (static,
// stripped, -trimpath), stays within its 4 MiB bar (DESIGN.md). With
// signature checks it measured 4,100,258 bytes, 94 KB under the bar, so
// growth shows here before a release does.
func TestStrippedSize(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out := filepath.Join(t.TempDir(), "sealenv-inject")
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, b)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 4<<20 {
		t.Errorf("the stripped injector is %d bytes, over 4 MiB (%d)", st.Size(), 4<<20)
	}
	t.Logf("stripped linux/amd64 injector: %d bytes (%.2f MiB)", st.Size(), float64(st.Size())/(1<<20))
}
