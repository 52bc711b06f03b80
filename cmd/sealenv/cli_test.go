package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealenv/sealenv/internal/fsutil"
)

// The CLI tests run the real binary: the test binary re-executes itself as
// sealenv when SEALENV_TEST_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("SEALENV_TEST_MAIN") == "1" {
		// A test hook compiled into the test binary only: kill sealenv
		// with SIGKILL at one step of a journaled fleet write.
		if s := os.Getenv("SEALENV_TEST_KILL_AT_STEP"); s != "" {
			step, _ := strconv.Atoi(s)
			fsutil.TestHookStep = func(i, n int) {
				if i == step {
					self, _ := os.FindProcess(os.Getpid())
					self.Kill() // SIGKILL; TerminateProcess on Windows
				}
			}
		}
		main()
		return
	}
	code := m.Run()
	removeInjectorBinary()
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs sealenv in dir with extra environment and stdin.
type runner struct {
	t   *testing.T
	dir string
	env []string
}

func newCLI(t *testing.T) *runner {
	home := t.TempDir()
	return &runner{t: t, dir: t.TempDir(), env: []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}}
}

// newParallelCLI is newCLI for a test that runs beside others: it owns
// its directories and changes nothing of the test process (working
// directory, environment, umask); every sealenv it runs is a process of
// its own.
func newParallelCLI(t *testing.T) *runner {
	t.Parallel()
	return newCLI(t)
}

func (c *runner) run(stdin string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = c.dir
	cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, c.env...)
	cmd.Args[0] = "sealenv"
	cmd.Stdin = strings.NewReader(stdin)
	return c.result(cmd)
}

// result runs cmd and returns its output and exit status; only a command
// that could not start fails the test.
func (c *runner) result(cmd *exec.Cmd) result {
	c.t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func (c *runner) ok(stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("sealenv %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// fails asserts exit 2 with exactly one stderr line that mentions want.
func (c *runner) fails(want, stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 2 {
		c.t.Fatalf("sealenv %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
	}
	if lines := strings.Count(r.stderr, "\n"); lines != 1 || !strings.HasPrefix(r.stderr, "sealenv: error: ") {
		c.t.Errorf("stderr is not one error line: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		c.t.Errorf("stderr %q does not mention %q", r.stderr, want)
	}
	return r
}

func (c *runner) path(name string) string { return filepath.Join(c.dir, name) }

func (c *runner) keygen(name string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("", "keygen", "-o", name).stdout)
}

func digest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// secret returns a value generated at test time.
func secret(t *testing.T, label string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return label + "-" + base64.RawURLEncoding.EncodeToString(b)
}

func TestKeygen(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	if !strings.HasPrefix(r, "age1") {
		t.Fatalf("recipient %q", r)
	}
	st, err := os.Stat(c.path("key.txt"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	before := digest(t, c.path("key.txt"))
	c.fails("already exists", "", "keygen", "-o", "key.txt")
	if digest(t, c.path("key.txt")) != before {
		t.Fatal("keygen overwrote an existing identity")
	}
	if out := c.ok("", "keygen", "--pq").stdout; !strings.Contains(out, "AGE-SECRET-KEY-PQ-1") {
		t.Fatal("keygen --pq did not print a post-quantum identity")
	}
}

func TestAuthoringFlow(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	db, tok := secret(t, "db"), secret(t, "tok")
	plain := "DB_PASSWORD=" + db + "\nexport API_TOKEN=\"" + tok + "\"\n"
	for _, store := range []string{"env", "yaml"} {
		name := "prod." + store
		in := plain
		if store == "yaml" {
			in = "DB_PASSWORD: " + db + "\nAPI_TOKEN: " + tok + "\n"
		}
		c.ok(in, "seal", "-r", r, "-i", "-", "--dialect", "shell", "-o", name)
		raw, _ := os.ReadFile(c.path(name))
		if bytes.Contains(raw, []byte(db)) || bytes.Contains(raw, []byte(tok)) {
			t.Fatal("bundle contains a plaintext value")
		}
		if got := c.ok("", "reveal", name, "DB_PASSWORD").stdout; got != db {
			t.Fatalf("%s: reveal DB_PASSWORD = %d bytes, want the sealed value", store, len(got))
		}
		newval := secret(t, "new")
		c.ok(newval+"\n", "set", name, "NEW_KEY")
		if got := c.ok("", "reveal", name, "NEW_KEY").stdout; got != newval {
			t.Fatalf("%s: set/reveal mismatch", store)
		}
		show := c.ok("", "show", name)
		for _, v := range []string{db, tok, newval} {
			if strings.Contains(show.stdout+show.stderr, v) {
				t.Fatal("show printed a value")
			}
		}
		for _, k := range []string{"DB_PASSWORD", "API_TOKEN", "NEW_KEY", r} {
			if !strings.Contains(show.stdout, k) {
				t.Errorf("show does not list %s", k)
			}
		}
		js := c.ok("", "reveal", name, "--format", "json").stdout
		if !strings.Contains(js, `"API_TOKEN": "`+tok+`"`) {
			t.Errorf("reveal --format json: %s", strings.ReplaceAll(js, tok, "<tok>"))
		}
		// flags may follow positionals
		c.ok("", "rotate", name, "API_TOKEN", "--grace", "24h", "--alphabet", "hex")
		if got := c.ok("", "reveal", name, "API_TOKEN_PREVIOUS").stdout; got != tok {
			t.Fatal("rotate --grace did not keep the old value")
		}
		if got := c.ok("", "reveal", name, "API_TOKEN").stdout; len(got) != 64 {
			t.Fatalf("rotated hex value has %d characters", len(got))
		}
		c.ok("", "unset", name, "NEW_KEY")
		c.fails("no key", "", "reveal", name, "NEW_KEY")
		// round trip: reveal output seals again to the same values
		dot := c.ok("", "reveal", name).stdout
		c.ok(dot, "seal", "-r", r, "-i", "-", "-o", "copy-"+store+".env")
		if c.ok("", "reveal", "copy-"+store+".env").stdout != dot {
			t.Errorf("%s: reveal | seal -i - does not round-trip", store)
		}
	}
}

func TestNoValueOnTheCommandLine(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("", "seal", "-r", r, "-o", "b.env")
	// There is no argument form of a value: a third argument is a usage error.
	c.fails("usage", "", "set", "b.env", "KEY", "value-in-argv")
	if out := c.ok("", "reveal", "b.env").stdout; out != "" {
		t.Fatalf("bundle changed by a refused set: %q", out)
	}
	for _, cmd := range []string{"seal", "set", "rotate", "rekey", "edit", "reveal"} {
		help := c.ok("", cmd, "--help").stdout
		if strings.Contains(help, "--value") {
			t.Errorf("%s has a --value flag", cmd)
		}
	}
}

func TestBadInputFailsClosed(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.keygen("wrong.txt")
	val := secret(t, "v")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("SECRET="+val+"\nOTHER=x\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	good, _ := os.ReadFile(c.path("b.env"))
	write := func(name string, data []byte) string {
		if err := os.WriteFile(c.path(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	lines := strings.Split(string(good), "\n")
	var tampered []string
	for _, l := range lines {
		if strings.HasPrefix(l, "SECRET=") {
			l = strings.Replace(l, "data:", "data:AA", 1)
		}
		tampered = append(tampered, l)
	}
	var badMAC []string
	for _, l := range lines {
		if strings.HasPrefix(l, "sops_mac=") {
			l = strings.Replace(l, "iv:", "iv:A", 1)[:len(l)]
		}
		badMAC = append(badMAC, l)
	}
	cases := []struct{ name, file, want string }{
		{"wrong identity", "b.env", "no identity matches"},
		{"tampered value", write("t.env", []byte(strings.Join(tampered, "\n"))), "SECRET"},
		{"tampered mac", write("m.env", []byte(strings.Join(badMAC, "\n"))), "MAC"},
		{"truncated", write("tr.env", good[:len(good)/3]), "tr.env"},
		{"unknown store", write("b.ini", []byte("[s]\nSECRET = x\n")), "unknown store"},
		{"plain json", write("b.json", []byte(`{"SECRET": "x"}`)), "not sealed"},
		{"duplicate key", write("d.env", append([]byte(lines[0]+"\n"), good...)), "duplicate key"},
		{"invalid name", write("n.env", append([]byte("bad-name=x\n"), good...)), "not a valid environment variable name"},
		{"non-utf8", write("u.env", append([]byte("X=\xff\n"), good...)), "UTF-8"},
		{"not sealed", write("p.env", []byte("SECRET="+val+"\n")), "not sealed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &runner{t: t, dir: c.dir, env: c.env}
			args := []string{"reveal", tc.file}
			if tc.name == "wrong identity" {
				args = append(args, "--identity", c.path("wrong.txt"))
			}
			before := digest(t, c.path(tc.file))
			res := c.fails(tc.want, "", args...)
			if !strings.Contains(res.stderr, tc.file) {
				t.Errorf("error does not name the file: %q", res.stderr)
			}
			if strings.Contains(res.stderr+res.stdout, val) {
				t.Fatal("a secret value reached the output")
			}
			// a write command fails the same way and leaves the file as it was
			wargs := append([]string{"set"}, args[1:]...)
			wargs = append(wargs[:2], append([]string{"NEWKEY"}, wargs[2:]...)...)
			c.fails(tc.file, "x", wargs...)
			if digest(t, c.path(tc.file)) != before {
				t.Fatal("a failed command changed the bundle")
			}
		})
	}
	c.fails("missing.txt: no such file", "", "reveal", "b.env", "--identity", c.path("missing.txt"))
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// editorScript writes a shell script used as $EDITOR. It records its argv
// and the file system type of the file it edits, then runs action.
func editorScript(t *testing.T, c *runner, action string) string {
	t.Helper()
	script := c.path("editor.sh")
	body := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + c.path("editor.argv") + "\n" +
		"stat -f -c %T \"$(dirname \"$1\")\" > " + c.path("editor.fstype") + "\n" +
		"stat -c %a \"$1\" > " + c.path("editor.mode") + "\n" + action + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestEditKeepsPlaintextInMemory(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	old, repl := secret(t, "old"), secret(t, "repl")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("A="+old+"\nB=keep\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	before, _ := os.ReadFile(c.path("b.env"))
	ed := editorScript(t, c, "sed -i \"s/^A=.*/A=$TEST_REPLACEMENT/\" \"$1\"")
	tmp := t.TempDir()
	c.env = append(c.env, "EDITOR="+ed, "TEST_REPLACEMENT="+repl, "TMPDIR="+tmp)
	c.ok("", "edit", "b.env")
	argv, _ := os.ReadFile(c.path("editor.argv"))
	edited := strings.TrimSpace(string(argv))
	if !strings.HasPrefix(edited, "/dev/shm/") && !strings.HasPrefix(edited, os.Getenv("XDG_RUNTIME_DIR")) {
		t.Errorf("plaintext copy at %s", edited)
	}
	if fsType, _ := os.ReadFile(c.path("editor.fstype")); strings.TrimSpace(string(fsType)) != "tmpfs" {
		t.Errorf("plaintext copy on %s, want tmpfs", fsType)
	}
	if mode, _ := os.ReadFile(c.path("editor.mode")); strings.TrimSpace(string(mode)) != "600" {
		t.Errorf("plaintext copy mode %s", mode)
	}
	if strings.Contains(string(argv), old) || strings.Contains(string(argv), repl) {
		t.Fatal("a value reached the editor's argv")
	}
	if _, err := os.Stat(edited); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("plaintext copy still exists after edit: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(edited)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("private edit directory still exists")
	}
	if got := c.ok("", "reveal", "b.env", "A").stdout; got != repl {
		t.Fatal("edit did not change A")
	}
	after, _ := os.ReadFile(c.path("b.env"))
	lineOf := func(data []byte, k string) string {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, k+"=") {
				return l
			}
		}
		return ""
	}
	if lineOf(before, "B") != lineOf(after, "B") {
		t.Error("ciphertext of unchanged B changed")
	}
	// No plaintext on disk: not next to the bundle, not in sealenv's
	// temporary directory (its own, so the test reads only what it made;
	// walking the shared one once blocked on another program's FIFO).
	for _, dir := range []string{c.dir, tmp} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && (bytes.Contains(b, []byte(old)) || bytes.Contains(b, []byte(repl))) {
				t.Errorf("plaintext value found on disk in %s", p)
			}
			return nil
		})
	}
}

func TestEditCleansUpOnSignal(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("A="+secret(t, "a")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	before := digest(t, c.path("b.env"))
	// The editor signals sealenv (its parent) and then waits to be killed.
	ed := editorScript(t, c, "kill -TERM $PPID; exec sleep 30")
	c.env = append(c.env, "EDITOR="+ed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "edit", "b.env")
	cmd.Dir = c.dir
	cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, c.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 { // 128+SIGTERM
		t.Fatalf("edit after SIGTERM: %v (%s)", err, stderr.String())
	}
	argv, _ := os.ReadFile(c.path("editor.argv"))
	edited := strings.TrimSpace(string(argv))
	if edited == "" {
		t.Fatal("editor never ran")
	}
	if _, err := os.Stat(edited); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("plaintext copy left behind after SIGTERM")
	}
	if digest(t, c.path("b.env")) != before {
		t.Fatal("interrupted edit changed the bundle")
	}
	_ = syscall.SIGTERM
}

func TestEditRefusesWithoutMemoryStorage(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "EDITOR=true")
	c.ok("A=x\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	if fsutil.IsMemoryBacked(c.dir) {
		t.Skip("the test directory is itself on tmpfs")
	}
	c.env = append(c.env, "SEALENV_SHM_DIR="+c.dir)
	c.fails("no memory-backed directory", "", "edit", "b.env")
}

func TestPolicyEnvironments(t *testing.T) {
	c := newParallelCLI(t)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	policy := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n" +
		"      - {key: " + alice + ", owner: alice}\n      - {key: " + bob + ", owner: bob}\n"
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.ok("K=v\n", "seal", "--env", "prod", "-i", "-")
	if got := c.ok("", "reveal", "secrets/prod.env", "K", "--identity", c.path("bob.txt")).stdout; got != "v" {
		t.Fatal("bob cannot read the bundle sealed from the policy")
	}
	// bob leaves: the policy drops him, rekey --env cuts him off
	os.WriteFile(c.path("sealenv.yaml"), []byte(strings.Replace(policy, "      - {key: "+bob+", owner: bob}\n", "", 1)), 0o644)
	res := c.ok("", "rekey", "--env", "prod")
	if !strings.Contains(res.stderr, "rotate next") {
		t.Errorf("rekey does not say what to rotate: %q", res.stderr)
	}
	c.fails("no identity matches", "", "reveal", "secrets/prod.env", "--identity", c.path("bob.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"  - name: prod\n    bundle: x.env\n    recipients: [{key: "+alice+"}]\n"), 0o644)
	c.fails("duplicate environment", "", "seal", "--env", "prod")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironmentz: []\n"), 0o644)
	c.fails("environmentz", "", "seal", "--env", "prod")
}

// TestNothingSecretIsEchoed: a private key passed where a recipient belongs,
// or a value passed where a flag belongs, never comes back in an error, and
// a broken identity variable makes check fail instead of skipping values.
func TestNothingSecretIsEchoed(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	keyText, _ := os.ReadFile(c.path("key.txt"))
	var private string
	for _, l := range strings.Split(string(keyText), "\n") {
		if strings.HasPrefix(l, "AGE-SECRET-KEY-") {
			private = l
		}
	}
	res := c.fails("looks like a private key", "", "seal", "-r", private, "-o", "b.env")
	if strings.Contains(res.stderr, private[15:40]) {
		t.Fatal("the private key came back in the error")
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: p.env, recipients: [{key: "+private+"}]}\n"), 0o644)
	res = c.fails("looks like a private key", "", "check", "--no-identity")
	if strings.Contains(res.stderr, private[15:40]) {
		t.Fatal("the private key in the policy came back in the error")
	}
	// A policy that does not load stops every write (which must know the
	// recipients of the bundle's environment): the rest runs without it.
	c.fails("looks like a private key", "", "seal", "-r", r, "-o", "b.env")
	os.Remove(c.path("sealenv.yaml"))
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("", "seal", "-r", r, "-o", "b.env")
	value := "-" + strings.ToUpper(secret(t, "v"))
	res = c.fails("usage", "", "set", "b.env", "KEY", value)
	if strings.Contains(res.stderr+res.stdout, value[1:]) {
		t.Fatal("a value passed as a flag came back in the error")
	}
	// A configured identity that cannot be read is an error for check.
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("missing-key.txt"))
	c.fails("missing-key.txt", "", "check")
}
