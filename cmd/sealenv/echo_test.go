package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/seal"
)

// TestNoArgumentValueIsEchoed passes a generated value through every
// argument position of every command and subcommand, in every flag that
// takes a value, and as a flag, and checks that it appears in no output. A
// value typed in the wrong place must not land in a terminal, a CI log or
// scrollback. The value takes five shapes in turn, one per run (each shape
// reaches every command at several positions; the whole sweep for every
// shape would take five times as long): a token (base64 with + and =),
// values shaped like key names that credential rules know (ghp_..., AKIA...,
// sk_live_...), and a value of the bundle the commands open, shaped like a
// key name that no rule knows.
func TestNoArgumentValueIsEchoed(t *testing.T) {
	c := newCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "EDITOR=true", "SEALENV_LOCK_TIMEOUT=1s",
		"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "DOCKER_HOST=unix:///nonexistent", "SEALENV_SHM_DIR="+c.dir)
	sealed := "Zq" + alnum(t, 20, false)
	c.ok("K="+sealed+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	bundle := mustRead(t, c.path("b.env"))
	raw := make([]byte, 12)
	rand.Read(raw)
	// URL-safe base64: a "/" in the value would make -o VALUE create a
	// directory, and a path that exists is rightly shown in errors.
	core := base64.URLEncoding.EncodeToString(raw)
	shapes := []struct{ value, core string }{
		{"Sv+" + core + "=", core},
		{"ghp_" + alnum(t, 36, false), ""},
		{"AKIA" + alnum(t, 16, true), ""},
		{"sk_live_" + alnum(t, 24, false), ""},
		{sealed, ""},
	}
	for i := range shapes {
		if shapes[i].core == "" {
			shapes[i].core = shapes[i].value
		}
	}
	// Runs are written with this placeholder, then given a shape.
	const value = "\x00VALUE\x00"

	app := newApp(&env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv, now: time.Now})
	type run struct {
		args  []string
		shape int // -1: the next shape in turn
	}
	var runs []run
	add := func(args []string) { runs = append(runs, run{args, -1}) }
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			path := append(append([]string{}, prefix...), cmd.Name)
			if len(cmd.Subcommands) > 0 {
				walk(path, cmd.Subcommands)
				continue
			}
			for _, base := range [][]string{nil, {"b.env"}, {"b.env", "K"}} {
				for i := 0; i <= len(base); i++ {
					args := append(append([]string{}, base[:i]...), value)
					add(append(append(append([]string{}, path...), args...), base[i:]...))
				}
			}
			// Where a key name goes (CMD VALUE, CMD BUNDLE VALUE), every
			// shape.
			for si := range shapes {
				runs = append(runs, run{append(append([]string{}, path...), value), si},
					run{append(append([]string{}, path...), "b.env", value), si})
			}
			for _, f := range cmd.Flags {
				if _, isBool := f.(*cli.BoolFlag); isBool {
					continue
				}
				add(append(append([]string{}, path...), "--"+f.Names()[0], value, "b.env", "K"))
			}
			add(append(append([]string{}, path...), "--\x00LOWER\x00="+value, "b.env"))
			add(append(append([]string{}, path...), "-"+value, "b.env"))
			add(append(append([]string{}, path...), "--", value))
		}
	}
	walk(nil, app.Commands)
	if len(runs) < 150 {
		t.Fatalf("only %d runs: the sweep broke", len(runs))
	}
	before := map[string]bool{}
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		before[e.Name()] = true
	}
	for n, r := range runs {
		args := r.args
		if r.shape < 0 {
			r.shape = n % len(shapes)
		}
		shape := shapes[r.shape]
		value, core := shape.value, shape.core
		for i, a := range args {
			a = strings.ReplaceAll(a, "\x00LOWER\x00", strings.ToLower(core[:6]))
			args[i] = strings.ReplaceAll(a, "\x00VALUE\x00", value)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Dir = c.dir
		cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, c.env...)
		cmd.Stdin = strings.NewReader("x\n")
		out, err := cmd.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%v: %v", args, err)
		}
		created := false
		entries, _ := os.ReadDir(c.dir)
		for _, e := range entries {
			if before[e.Name()] {
				continue
			}
			// Whatever the run left is removed, so no run sees another's
			// file; an output file the user named VALUE may name it.
			created = created || strings.Contains(e.Name(), core[:8]) || strings.Contains(e.Name(), strings.ToLower(core[:6]))
			os.RemoveAll(filepath.Join(c.dir, e.Name()))
		}
		os.WriteFile(c.path("b.env"), bundle, 0o644)
		if created && err == nil {
			continue
		}
		if err == nil && args[0] == "reveal" && value == sealed {
			continue // reveal prints the bundle's own value of K: its job
		}
		if strings.Contains(string(out), core) {
			t.Errorf("sealenv %s echoed the value:\n%s", strings.ReplaceAll(strings.Join(args, " "), value, "VALUE"), strings.ReplaceAll(string(out), value, "VALUE"))
		}
	}
	t.Logf("%d runs", len(runs))
}

// alnum returns n random letters and digits (upper case only with upper),
// built at run time: credential-shaped test values are never in the
// repository.
func alnum(t *testing.T, n int, upper bool) string {
	t.Helper()
	chars := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	if upper {
		chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// TestEchoShowsWhatIsNoSecret checks the echo filter case by case: what
// it shows (flags, commands, files, declared names, addresses and
// references without their userinfo) and what it hides (undeclared names,
// values of opened bundles even when shaped like paths, credentials).
func TestEchoShowsWhatIsNoSecret(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	existing := filepath.Join(dir, "sub", "there.env")
	os.WriteFile(existing, nil, 0o644)
	pol := filepath.Join(dir, "sealenv.yaml")
	os.WriteFile(pol, []byte("version: 1\nenvironments:\n  - {name: staging, bundle: b.env, recipients: [{key: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq}]}\n"), 0o644)
	pw := alnum(t, 12, false)
	ghp := "ghp_" + alnum(t, 36, false)
	akia := "AKIA" + alnum(t, 16, true)
	sealedPath := filepath.Join(dir, "sub", "abc"+alnum(t, 8, false)+".env") // a value shaped like a path
	cases := []struct {
		arg, want string // want "": hidden
	}{
		{"--force", "--force"},
		{existing, existing},
		{filepath.Join(dir, "sub", "new.json"), filepath.Join(dir, "sub", "new.json")},
		{filepath.Join(dir, "nowhere", "x.json"), ""},
		{"tcp://alice:" + pw + "@buildkitd.example.com:1234", "tcp://buildkitd.example.com:1234"},
		{"https://" + ghp + "@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"buildkitd.internal.example.com", "buildkitd.internal.example.com"},
		{"127.0.0.1:5000", "127.0.0.1:5000"},
		{"docker-container://buildx_buildkit_builder0", "docker-container://buildx_buildkit_builder0"},
		{"docker://registry.example.com/app:1.4", "docker://registry.example.com/app:1.4"},
		{"registry.example.com/team/app:cache", "registry.example.com/team/app:cache"},
		{"type=registry,ref=registry.example.com/app:cache,mode=max", "type=registry,ref=registry.example.com/app:cache,mode=max"},
		{"type=registry,ref=" + ghp, ""},
		{"id=NPM_TOKEN,env=" + pw + "x", ""},
		{"staging", "staging"},         // an environment of the policy
		{"DB_PASSWORD", "DB_PASSWORD"}, // a key of the opened bundle
		{"DB_PASSWRD", ""},             // a name nobody declared
		{ghp, ""},
		{akia, ""},
		{sealedPath, ""},
		{"--output=" + ghp, ""},
		{"--" + ghp, ""},
	}
	for _, c := range cases {
		args := []string{"sealenv", "build", "--policy", pol, "--x", c.arg}
		e := &env{echo: newEcho(args, newApp(&env{}).Commands)}
		e.sawBundle([]string{"DB_PASSWORD"}, []seal.Secret{{Name: "DB_PASSWORD", Value: []byte(sealedPath)}})
		got := e.redact("build: " + c.arg + ": failed")
		want := "build: " + c.want + ": failed"
		if c.want == "" {
			want = "build: [argument 5]: failed"
		}
		if got != want {
			// Generated values are never printed, not even these.
			hide := strings.NewReplacer(pw, "PW", ghp, "GHP", akia, "AKIA", sealedPath, "SEALED")
			t.Errorf("%q:\n got %q\nwant %q", hide.Replace(c.arg), hide.Replace(got), hide.Replace(want))
		}
	}
}
