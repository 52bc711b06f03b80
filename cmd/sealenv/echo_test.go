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
)

// TestNoArgumentValueIsEchoed passes a generated value, shaped like a
// token (base64 with + and =), through every argument position of every
// command and subcommand, in every flag that takes a value, and as a
// flag, and checks that it appears in no output. A value typed in the
// wrong place must not land in a terminal, a CI log or scrollback.
func TestNoArgumentValueIsEchoed(t *testing.T) {
	c := newCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "EDITOR=true", "SEALENV_LOCK_TIMEOUT=1s",
		"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "DOCKER_HOST=unix:///nonexistent", "SEALENV_SHM_DIR="+c.dir)
	c.ok("K=v\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	bundle := mustRead(t, c.path("b.env"))
	raw := make([]byte, 12)
	rand.Read(raw)
	// URL-safe base64: a "/" in the value would make -o VALUE create a
	// directory, and a path that exists is rightly shown in errors.
	core := base64.URLEncoding.EncodeToString(raw)
	value := "Sv+" + core + "="

	app := newApp(&env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv, now: time.Now})
	var runs [][]string
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
					runs = append(runs, append(append(append([]string{}, path...), args...), base[i:]...))
				}
			}
			for _, f := range cmd.Flags {
				if _, isBool := f.(*cli.BoolFlag); isBool {
					continue
				}
				runs = append(runs, append(append([]string{}, path...), "--"+f.Names()[0], value, "b.env", "K"))
			}
			runs = append(runs,
				append(append([]string{}, path...), "--"+strings.ToLower(core[:6])+"="+value, "b.env"),
				append(append([]string{}, path...), "-"+value, "b.env"),
				append(append([]string{}, path...), "--", value))
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
	for _, args := range runs {
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
			created = created || strings.Contains(e.Name(), core[:8])
			os.RemoveAll(filepath.Join(c.dir, e.Name()))
		}
		os.WriteFile(c.path("b.env"), bundle, 0o644)
		if created && err == nil {
			continue
		}
		if strings.Contains(string(out), core) {
			t.Errorf("sealenv %s echoed the value:\n%s", strings.ReplaceAll(strings.Join(args, " "), value, "VALUE"), strings.ReplaceAll(string(out), value, "VALUE"))
		}
	}
	t.Logf("%d runs", len(runs))
}
