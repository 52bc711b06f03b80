package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

var (
	// Every fenced block is matched, so that a json block does not shift the
	// pairing of the fences after it; only shell-like ones are checked.
	codeBlock = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")
	codeSpan  = regexp.MustCompile("`(sealenv [^`]+)`")
	command   = regexp.MustCompile(`(?:^|[\s(])(sealenv(?: [^\n|;&#)]*)?)`)
)

// TestDocumentedCommandsExist: every sealenv command line in README.md and
// docs/*.md names a real subcommand and only flags it has, so the
// documentation cannot drift from the CLI. (scripts/demo.sh, which CI runs,
// executes the main ones for real.)
func TestDocumentedCommandsExist(t *testing.T) {
	app := newApp(&env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv, now: time.Now})
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md", "../../Dockerfile.example")
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, m := range codeBlock.FindAllStringSubmatch(string(data), -1) {
			switch m[1] {
			case "", "sh", "bash", "yaml", "dockerfile":
			default:
				continue
			}
			for _, l := range strings.Split(m[2], "\n") {
				for _, c := range command.FindAllStringSubmatch(l, -1) {
					lines = append(lines, c[1])
				}
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(string(data), -1) {
			lines = append(lines, m[1])
		}
		for _, l := range lines {
			if msg := checkCommandLine(app, l); msg != "" {
				t.Errorf("%s: %q: %s", filepath.Base(f), l, msg)
			}
			checked++
		}
	}
	for _, bad := range []string{"sealenv rotate b.env K --gracee 1h", "sealenv sael -r age1x", "sealenv audit image x --formatt json", "sealenv inject --bundlee x -- true"} {
		if checkCommandLine(app, bad) == "" {
			t.Errorf("%q passed the check", bad)
		}
	}
	if checked < 40 {
		t.Fatalf("only %d documented commands found; the extraction broke", checked)
	}
}

func checkCommandLine(app *cli.App, line string) string {
	fields := strings.Fields(line)[1:]
	if len(fields) == 0 {
		return ""
	}
	var cmd *cli.Command
	cmds := app.Commands
	i := 0
	for ; i < len(fields); i++ {
		next := findCommand(cmds, fields[i])
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
	}
	if cmd == nil {
		if strings.HasPrefix(fields[0], "-") || strings.ContainsAny(fields[0], "$<>[]{}") {
			return ""
		}
		return "no such command " + fields[0]
	}
	names := map[string]bool{"help": true, "h": true}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			names[n] = true
		}
	}
	if cmd.Name == "inject" {
		for _, n := range injectFlagNames() {
			names[n] = true
		}
	}
	for _, tok := range fields[i:] {
		if tok == "--" {
			break
		}
		if !strings.HasPrefix(tok, "-") || tok == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(tok, "-"), "=")
		if !names[name] {
			return "command " + cmd.Name + " has no flag " + tok
		}
	}
	return ""
}
