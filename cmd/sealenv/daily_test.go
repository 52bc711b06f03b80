package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/seal/author"
)

// The tests of issue 21: daily use that never loses or bends a value. Each
// runs the real binary in directories it owns, in parallel.

// TestKeysFileInVariable: a whole age keys.txt, as sealenv keygen and
// age-keygen write it (comment lines, several keys, the one that opens the
// bundle last), in SOPS_AGE_KEY or SEALENV_AGE_KEY works for every command
// that decrypts and for the injector, as it does for sops.
func TestKeysFileInVariable(t *testing.T) {
	c := newParallelCLI(t)
	c.keygen("other.txt")
	r := c.keygen("key.txt")
	other, _ := os.ReadFile(c.path("other.txt"))
	key, _ := os.ReadFile(c.path("key.txt"))
	keys := string(other) + "\n" + string(key)
	if !strings.Contains(keys, "# created:") || !strings.Contains(keys, "# public key:") {
		t.Fatalf("keygen wrote no comment lines: the test proves nothing")
	}
	v := secret(t, "v")
	c.ok("A="+v+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: dev, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	os.WriteFile(c.path("Dockerfile"), []byte("FROM scratch\n"), 0o644)
	base := c.env
	for _, variable := range []string{"SOPS_AGE_KEY", "SEALENV_AGE_KEY"} {
		c.env = append(append([]string{}, base...), variable+"="+keys)
		if got := c.ok("", "reveal", "b.env", "A").stdout; got != v {
			t.Fatalf("%s: reveal gave %d bytes, want the sealed value", variable, len(got))
		}
		c.ok(secret(t, "w")+"\n", "set", "b.env", "B")
		c.ok("", "rotate", "b.env", "B")
		if res := c.ok("", "check"); !strings.Contains(res.stdout, "0 errors") {
			t.Errorf("%s: check: %s", variable, res.stdout)
		}
		if res := c.run("", "audit", "dockerfile", "Dockerfile", "--bundle", "b.env"); res.code != 0 {
			t.Errorf("%s: audit dockerfile: exit %d: %s", variable, res.code, res.stderr)
		}
		if got := c.ok("", "inject", "--no-access-log", "--bundle", "b.env", "--", "printenv", "A").stdout; got != v+"\n" {
			t.Errorf("%s: sealenv inject gave %q", variable, strings.ReplaceAll(got, v, "<v>"))
		}
		cmd := exec.Command(injectorBinary(t), "--no-access-log", "--bundle", "b.env", "--", "printenv", "A")
		cmd.Dir = c.dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
		if res := c.result(cmd); res.code != 0 || res.stdout != v+"\n" {
			t.Errorf("%s: sealenv-inject: exit %d: %s", variable, res.code, res.stderr)
		}
	}
	// sops reads the same variable the same way: the reference.
	c.env = append(append([]string{}, base...), "SOPS_AGE_KEY="+keys)
	if out, err := c.sops(nil, "decrypt", "b.env"); err != nil || !strings.Contains(string(out), "A="+v) {
		t.Errorf("sops decrypt with the same SOPS_AGE_KEY: %v", err)
	}
}

// TestEmptyValueIsNeverStored: nothing on stdin, a closed stdin, rotate
// --stdin fed nothing, and a generator that prints only blanks are each
// exit 2 with the bundle unchanged; --allow-empty stores an empty value on
// purpose.
func TestEmptyValueIsNeverStored(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	v := secret(t, "v")
	c.ok("A="+v+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	before := digest(t, c.path("b.env"))
	unchanged := func(what string) {
		t.Helper()
		if digest(t, c.path("b.env")) != before {
			t.Fatalf("%s changed the bundle", what)
		}
	}
	c.fails("no value for A on stdin", "", "set", "b.env", "A")
	unchanged("set with an empty stdin")
	c.fails("--allow-empty", "\n", "set", "b.env", "A")
	unchanged("set with a lone newline")
	c.fails("no value for NEW on stdin", "", "set", "b.env", "NEW")
	unchanged("set of a new key with an empty stdin")
	// A closed stdin, as a shell's <&- gives it, and true | sealenv set.
	for _, script := range []string{`"$0" set b.env A <&-`, `true | "$0" set b.env A`} {
		cmd := exec.Command("sh", "-c", script, os.Args[0])
		cmd.Dir = c.dir
		cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, c.env...)
		if res := c.result(cmd); res.code != 2 || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line", script, res.code, res.stderr)
		}
		unchanged(script)
	}
	c.fails("no value for A on stdin", "", "rotate", "b.env", "A", "--stdin")
	unchanged("rotate --stdin with an empty stdin")
	// A generator command that prints only blanks.
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: dev, bundle: b.env, recipients: [{key: "+r+"}]}\n"+
		"keys:\n  A:\n    generator: {command: \"printf '  \\\\n\\\\t\\\\n'\"}\n"), 0o644)
	c.ok("", "pin", "A")
	c.fails("printed nothing", "", "rotate", "b.env", "A", "--yes")
	unchanged("rotate with a generator that printed blanks")
	if got := c.ok("", "reveal", "b.env", "A").stdout; got != v {
		t.Fatal("the value changed")
	}
	// On purpose: --allow-empty.
	c.ok("", "set", "b.env", "A", "--allow-empty")
	if got := c.ok("", "reveal", "b.env", "--format", "json").stdout; !strings.Contains(got, `"A": ""`) {
		t.Errorf("--allow-empty did not store an empty value: %s", strings.ReplaceAll(got, v, "<v>"))
	}
}

// TestMessagesSayWhatHappened: counts in the singular where there is one,
// durations as typed, check --env counts the one environment it checked,
// and audit dockerfile counts the sealed values it searched.
func TestMessagesSayWhatHappened(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.keygen("other.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	res := c.ok("A="+secret(t, "a")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	if !strings.Contains(res.stderr, "sealed 1 key to 1 recipient in b.env") {
		t.Errorf("seal: %q", res.stderr)
	}
	c.ok(secret(t, "b")+"\n", "set", "b.env", "B")
	c.ok("x\n", "set", "b.env", "SHORT")
	if res := c.ok("", "unset", "b.env", "SHORT"); !strings.Contains(res.stderr, "removed 1 key from b.env") {
		t.Errorf("unset: %q", res.stderr)
	}
	for _, g := range []string{"72h", "3d", "1w2d", "90m"} {
		if res := c.ok("", "rotate", "b.env", "A", "--grace", g); !strings.Contains(res.stderr, " for "+g+"\n") {
			t.Errorf("rotate --grace %s: %q", g, res.stderr)
		}
	}
	res = c.fails("no identity matches the 1 recipient", "", "reveal", "b.env", "--identity", c.path("other.txt"))
	if strings.Contains(res.stderr, "1 recipients") {
		t.Errorf("reveal with another key: %q", res.stderr)
	}
	c.ok("", "seal", "-r", r, "-o", "c.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n"+
		"  - {name: dev, bundle: b.env, recipients: [{key: "+r+"}]}\n"+
		"  - {name: prod, bundle: c.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	if res := c.ok("", "check", "--env", "dev"); !strings.Contains(res.stdout, "1 environment, 0 errors, 0 warnings") {
		t.Errorf("check --env dev: %q", res.stdout)
	}
	if res := c.ok("", "check"); !strings.Contains(res.stdout, "2 environments, 0 errors") {
		t.Errorf("check: %q", res.stdout)
	}
	// Two values long enough to search (A, B and A_PREVIOUS: three), one too short.
	c.ok("x\n", "set", "b.env", "TINY")
	os.WriteFile(c.path("Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	res = c.ok("", "audit", "dockerfile", "Dockerfile", "--bundle", "b.env", "--allow-short")
	if !strings.Contains(res.stdout, "3 sealed values searched (min 8 bytes, 1 too short, 1 of them accepted: TINY)") {
		t.Errorf("audit dockerfile: %q", res.stdout)
	}
}

// TestNestedKeys: in YAML and JSON bundles a write never replaces a map or
// a list by one value (exit 2 naming the nested keys, bundle unchanged);
// every nested key can be set, rotated, revealed and unset by its dotted
// name, as show lists it, or by its environment name; sops reads the result
// with its structure intact.
func TestNestedKeys(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	pw, user := secret(t, "pw"), secret(t, "user")
	inputs := map[string]string{
		"b.yaml": "db:\n  password: " + pw + "\n  user: " + user + "\nhosts: [alpha, beta]\n",
		"b.json": `{"db": {"password": "` + pw + `", "user": "` + user + `"}, "hosts": ["alpha", "beta"]}`,
	}
	for name, in := range inputs {
		c.ok(in, "seal", "-r", r, "-i", "-", "-o", name)
		before := digest(t, c.path(name))
		res := c.fails("db.password, db.user", "new\n", "set", name, "db")
		if !strings.Contains(res.stderr, "db is a map") {
			t.Errorf("%s: set db: %q", name, res.stderr)
		}
		c.fails("hosts.0, hosts.1", "new\n", "rotate", name, "hosts", "--stdin")
		c.fails("db.password, db.user", "", "rotate", name, "db")
		if digest(t, c.path(name)) != before {
			t.Fatalf("%s: a refused write changed the bundle", name)
		}
		show := c.ok("", "show", name).stdout
		for _, k := range []string{"db.password", "db.user", "hosts.0", "hosts.1"} {
			if !strings.Contains(show, "  "+k+" ") {
				t.Errorf("%s: show does not list %s: %s", name, k, show)
			}
		}
		if got := c.ok("", "reveal", name, "db.password").stdout; got != pw {
			t.Errorf("%s: reveal db.password gave %d bytes", name, len(got))
		}
		if got := c.ok("", "reveal", name, "db_user").stdout; got != user {
			t.Errorf("%s: reveal db_user gave %d bytes", name, len(got))
		}
		c.fails("holds nested keys", "", "reveal", name, "db")
		pw2 := secret(t, "pw2")
		c.ok(pw2+"\n", "set", name, "db.password")
		c.ok("gamma\n", "set", name, "hosts.1")
		c.ok(secret(t, "h")+"\n", "set", name, "db.host")
		c.ok("", "rotate", name, "db_user", "--grace", "1h")
		c.fails("without an item 5", "x\n", "set", name, "hosts.5")
		c.ok("", "unset", name, "db.host")
		out := string(c.mustSops(nil, "decrypt", "--output-type", "json", name))
		for _, want := range []string{`"password": "` + pw2 + `"`, `"gamma"`, `"db_user_PREVIOUS": "` + user + `"`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: sops decrypt lacks %s", name, strings.NewReplacer(pw2, "<pw2>", user, "<user>").Replace(want))
			}
		}
		if strings.Contains(out, `"host"`) || strings.Contains(out, `"db":"`) {
			t.Errorf("%s: unset db.host or a set flattened db: %s", name, strings.NewReplacer(pw2, "<pw2>", user, "<user>").Replace(out))
		}
		env := c.ok("", "inject", "--no-access-log", "--bundle", name, "--", "env").stdout
		if !strings.Contains(env, "db_password="+pw2+"\n") || !strings.Contains(env, "hosts_1=gamma\n") {
			t.Errorf("%s: the injector does not see the nested values", name)
		}
		c.ok("", "unset", name, "db")
		if show := c.ok("", "show", name).stdout; strings.Contains(show, "db.") {
			t.Errorf("%s: unset db left nested keys: %s", name, show)
		}
	}
	c.ok("A=1\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	c.fails("a dotenv bundle has no nested keys", "x\n", "set", "b.env", "db.password")
	c.fails("a dotenv bundle has no nested keys", "", "reveal", "b.env", "A.B")
}

// TestEditKeepsTypedWork: a malformed edit reopens the editor on the
// person's own text with the error at the top as a comment; fixing it
// saves everything typed; saving it unchanged, or an editor that exits
// with an error, leaves the bundle as it was. The editor is a script that
// acts differently in each round, as a person would.
func TestEditKeepsTypedWork(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	old, typed := secret(t, "old"), secret(t, "typed")
	c.ok("A="+old+"\nB=keep\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	// round 1: the person changes A and types a broken line; round 2 is
	// the action under test. The script records what it saw, never a value.
	editor := func(name, round2 string) []string {
		script := c.path(name + ".sh")
		body := "#!/bin/sh\nstate=" + c.path(name) + "\nn=$(cat \"$state.round\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$state.round\"\n" +
			"case $n in\n1) sed -i \"s/^A=.*/A=$TEST_TYPED/\" \"$1\"; printf 'this line has no equals sign\\n' >> \"$1\";;\n" +
			"2) head -n 1 \"$1\" | grep -q '^# sealenv edit: ERROR: line 3' && echo header >> \"$state.seen\"\n" +
			"   grep -qx \"A=$TEST_TYPED\" \"$1\" && echo typed >> \"$state.seen\"\n   " + round2 + ";;\n*) exit 3;;\nesac\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return []string{"EDITOR=" + script, "TEST_TYPED=" + typed}
	}
	base := c.env
	before := digest(t, c.path("b.env"))
	for _, tc := range []struct{ name, round2, want string }{
		{"unchanged", "true", "saved unchanged"},
		{"quit", "exit 1", "exited with an error"},
	} {
		c.env = append(append([]string{}, base...), editor(tc.name, tc.round2)...)
		res := c.run("", "edit", "b.env")
		lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
		if res.code != 2 || len(lines) != 2 || !strings.Contains(lines[0], "reopening the editor") ||
			!strings.HasPrefix(lines[1], "sealenv: error: ") || !strings.Contains(lines[1], tc.want) {
			t.Errorf("%s: exit %d, stderr %q: want exit 2, the reopening note and an error that says %q", tc.name, res.code, res.stderr, tc.want)
		}
		if strings.Contains(res.stderr, typed) || strings.Contains(res.stderr, old) {
			t.Errorf("%s: a value in stderr", tc.name)
		}
		if seen, _ := os.ReadFile(c.path(tc.name + ".seen")); string(seen) != "header\ntyped\n" {
			t.Errorf("%s: round 2 saw %q, want the error header and the typed text", tc.name, seen)
		}
		if digest(t, c.path("b.env")) != before {
			t.Fatalf("%s: the bundle changed", tc.name)
		}
	}
	// Fixed in round 2: everything typed in round 1 is saved.
	c.env = append(append([]string{}, base...), editor("fixed", "sed -i '/no equals sign/d' \"$1\"")...)
	res := c.ok("", "edit", "b.env")
	if !strings.Contains(res.stderr, "reopening the editor") || !strings.Contains(res.stderr, "changed A in b.env") {
		t.Errorf("edit: %q", res.stderr)
	}
	if got := c.ok("", "reveal", "b.env", "A").stdout; got != typed {
		t.Errorf("the typed value was not saved (%d bytes)", len(got))
	}
	if got := c.ok("", "reveal", "b.env", "--format", "json").stdout; !strings.Contains(got, `"B": "keep"`) || strings.Contains(got, "sealenv edit") {
		t.Errorf("the other value or the error header: %s", strings.ReplaceAll(got, typed, "<typed>"))
	}
	// An editor that fails at once, and one that saves nothing new.
	before = digest(t, c.path("b.env"))
	c.env = append(append([]string{}, base...), "EDITOR=false")
	c.fails("bundle unchanged", "", "edit", "b.env")
	c.env = append(append([]string{}, base...), "EDITOR=true")
	if res := c.ok("", "edit", "b.env"); !strings.Contains(res.stderr, "no changes") {
		t.Errorf("edit without a change: %q", res.stderr)
	}
	if digest(t, c.path("b.env")) != before {
		t.Fatal("an edit without a change rewrote the bundle")
	}
}

// TestEditReopensOnUnwritableYAML: an edit that parses but cannot be
// written (two names that flatten to the same variable) reopens the editor
// too, and the fix in the second round is saved.
func TestEditReopensOnUnwritableYAML(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("db:\n  password: "+secret(t, "pw")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.yaml")
	script := c.path("ed.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nn=$(cat "+c.path("round")+" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "+c.path("round")+"\n"+
		"case $n in\n1) printf 'db_password: twice\\nextra: one\\n' >> \"$1\";;\n2) sed -i '/^db_password:/d' \"$1\";;\n*) exit 3;;\nesac\n"), 0o755)
	c.env = append(c.env, "EDITOR="+script)
	res := c.ok("", "edit", "b.yaml")
	if !strings.Contains(res.stderr, "reopening the editor") || !strings.Contains(res.stderr, "changed extra") {
		t.Errorf("edit: %q", res.stderr)
	}
	if got := c.ok("", "reveal", "b.yaml", "extra").stdout; got != "one" {
		t.Errorf("extra = %q", got)
	}
}

// TestEnvFlagEverywhere: every command that takes a bundle path takes
// --env NAME instead, the environment's bundle in the policy; sealenv
// inject --env dev -- CMD is the daily way to run a program with it.
func TestEnvFlagEverywhere(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "EDITOR=true")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: dev, bundle: secrets/dev.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	c.ok("", "seal", "--env", "dev")
	v := secret(t, "v")
	if res := c.ok(v+"\n", "set", "--env", "dev", "API_TOKEN"); !strings.Contains(res.stderr, "set API_TOKEN in secrets/dev.env") {
		t.Errorf("set --env: %q", res.stderr)
	}
	if got := c.ok("", "reveal", "--env", "dev", "API_TOKEN").stdout; got != v {
		t.Errorf("reveal --env gave %d bytes", len(got))
	}
	if got := c.ok("", "show", "--env", "dev").stdout; !strings.Contains(got, "API_TOKEN") || !strings.Contains(got, "secrets/dev.env") {
		t.Errorf("show --env: %s", got)
	}
	if got := c.ok("", "inject", "--env", "dev", "--no-access-log", "--", "printenv", "API_TOKEN").stdout; got != v+"\n" {
		t.Errorf("inject --env gave %q", strings.ReplaceAll(got, v, "<v>"))
	}
	c.ok("", "rotate", "--env", "dev", "API_TOKEN")
	if got := c.ok("", "reveal", "--env", "dev", "API_TOKEN").stdout; got == v || got == "" {
		t.Error("rotate --env did not rotate")
	}
	c.ok("x1\n", "set", "--env", "dev", "EXTRA")
	c.ok("", "unset", "--env", "dev", "EXTRA")
	c.ok("", "edit", "--env", "dev")
	c.ok("", "adopt", "--env", "dev")
	signKey := c.path("id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", signKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	c.ok("", "sign", "--env", "dev", "--sign-key", signKey)
	if _, err := os.Stat(c.path("secrets/dev.env.sig")); err != nil {
		t.Errorf("sign --env wrote no signature: %v", err)
	}
	// A bundle path and --env at once, or an unknown environment, are mistakes.
	c.fails("drop BUNDLE", "x\n", "set", "--env", "dev", "secrets/dev.env", "K")
	c.fails("prod", "", "show", "--env", "prod")
	c.fails("usage", "", "show")
}

// dotenvOracle builds the oracle program of seal/author's tests (docker's
// env-file parser and compose-go's dotenv parser, a module of its own).
func dotenvOracle(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dotenvoracle")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "seal", "author", "testdata", "dotenvoracle")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
			t.Fatalf("building the dotenv oracle: %v: %s", err, out)
		}
		t.Skipf("building the dotenv oracle: %v", err)
	}
	return bin
}

// TestSealDialects runs every row of the dialect table in docs/cli.md
// through sealenv seal -i in each dialect and without one, and checks each
// cell against the reference tool: docker's env-file parser, compose-go's
// dotenv parser, bash, and the sops CLI.
func TestSealDialects(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "<!-- dialect-table: cmd/sealenv checks every row -->")
	table, _, _ = strings.Cut(table, "\n\n")
	row := regexp.MustCompile("(?m)^\\| `([^`]*)` \\| (.*) \\| (.*) \\| (.*) \\| (.*) \\|$")
	rows := row.FindAllStringSubmatch(table, -1)
	if len(rows) < 15 {
		t.Fatalf("found %d rows of the dialect table", len(rows))
	}
	oracle := dotenvOracle(t)
	bash := peer(t, "bash")
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	unescape := strings.NewReplacer("⏎", "\n", "␇", "\a")
	// cell returns what the table says a dialect reads: refused, or a
	// value and whether a dotenv bundle can hold it.
	cell := func(s string) (value string, read, storable bool) {
		switch {
		case strings.HasPrefix(s, "refused"):
			return "", false, false
		case s == "(empty)":
			return "", true, true
		}
		v, note, _ := strings.Cut(strings.TrimPrefix(s, "`"), "`")
		return unescape.Replace(v), true, !strings.Contains(note, "refused")
	}
	empty := t.TempDir()
	var sopsLines []string
	sopsWant := map[string]string{}
	perDialect := map[string][]string{}
	wantSealed := map[string]string{}
	var refused, unstorable [][2]string
	var agreeing []string
	for i, m := range rows {
		line := strings.ReplaceAll(m[1], `\|`, `|`)
		name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		name, _, _ = strings.Cut(name, ":")
		name = strings.TrimSpace(name)
		in := c.path(fmt.Sprintf("row%d.env", i))
		os.WriteFile(in, []byte(line+"\n"), 0o600)
		// The reference tools.
		out, err := exec.Command(oracle, in).Output()
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		var o struct {
			Compose, Docker struct {
				Err  string
				Vars [][2]string
			}
		}
		json.Unmarshal(out, &o)
		sh := exec.Command("env", "-i", "PATH=/nonexistent", bash, "--noprofile", "--norc", "-c", `set -a; . "$1"; exec /usr/bin/env -0`, "bash", in)
		sh.Dir = empty
		shOut, _ := sh.Output()
		shVal, shOK := "", false
		for _, kv := range strings.Split(string(shOut), "\x00") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				shVal, shOK = v, true
			}
		}
		reference := map[string]func() (string, bool){
			"literal": func() (string, bool) {
				for _, kv := range o.Docker.Vars {
					if kv[0] == name {
						return kv[1], o.Docker.Err == ""
					}
				}
				return "", false
			},
			"compose": func() (string, bool) {
				for _, kv := range o.Compose.Vars {
					if kv[0] == name {
						return kv[1], o.Compose.Err == ""
					}
				}
				return "", false
			},
			"shell": func() (string, bool) { return shVal, shOK },
		}
		values := map[string]string{}
		for j, d := range []string{"literal", "compose", "shell", "sops"} {
			want, read, storable := cell(m[j+2])
			dialect, _ := author.ParseDialect(d)
			vars, rerr := author.ReadDotenv([]byte(line+"\n"), dialect)
			if !read {
				if rerr == nil {
					t.Errorf("%q: the table says %s refuses it; it reads %d variables", line, d, len(vars))
				}
				refused = append(refused, [2]string{line, d})
				continue
			}
			values[d] = want
			if d == "sops" {
				sopsWant[name] = want
				sopsLines = append(sopsLines, line)
			} else if got, ok := reference[d](); !ok || got != want {
				t.Errorf("%q: the table says %s reads %q; its tool reads %q (%v)", line, d, want, got, ok)
			}
			if rerr != nil || len(vars) != 1 || vars[0].Value != want {
				t.Errorf("%q: the table says %s reads %q; ReadDotenv: %v %v", line, d, want, vars, rerr)
			}
			if storable {
				perDialect[d] = append(perDialect[d], line)
				wantSealed[d+" "+name] = want
			} else {
				unstorable = append(unstorable, [2]string{line, d})
			}
		}
		lv, lok := values["literal"]
		cv, cok := values["compose"]
		sv, sok := values["shell"]
		_, autoErr := author.ReadDotenv([]byte(line+"\n"), author.DialectAuto)
		if agree := lok && cok && sok && lv == cv && cv == sv; agree != (autoErr == nil) {
			t.Errorf("%q: the dialects agree: %v; without a dialect: %v", line, agree, autoErr)
		} else if agree {
			agreeing = append(agreeing, line)
		}
	}
	// Through the binary: each dialect seals its rows of the table at once.
	for _, d := range []string{"literal", "compose", "shell", "sops"} {
		out := "all-" + d + ".env"
		c.ok(strings.Join(perDialect[d], "\n")+"\n", "seal", "-r", r, "-i", "-", "--dialect", d, "-o", out)
		var got map[string]string
		json.Unmarshal([]byte(c.ok("", "reveal", "--format", "json", out).stdout), &got)
		for k, want := range wantSealed {
			dd, name, _ := strings.Cut(k, " ")
			if dd == d && got[name] != want {
				t.Errorf("--dialect %s: %s sealed as %q, want %q", d, name, got[name], want)
			}
		}
	}
	// A value a dotenv bundle cannot hold, and a refused line, are exit 2
	// with one line that names the line.
	for i, u := range append(unstorable[:1], refused[0], refused[len(refused)-1]) {
		want := "line 1"
		if i == 0 {
			want = `literal \n, which the dotenv store cannot represent`
		}
		res := c.fails(want, u[0]+"\n", "seal", "-r", r, "-i", "-", "--dialect", u[1], "-o", "refused.env")
		if _, err := os.Stat(c.path("refused.env")); err == nil {
			t.Fatalf("%q --dialect %s: written despite %q", u[0], u[1], res.stderr)
		}
	}
	// Without a dialect: the rows where all three agree are read; the whole
	// table stops at its first row the dialects read differently.
	c.ok(strings.Join(agreeing, "\n")+"\n", "seal", "-r", r, "-i", "-", "-o", "agree.env")
	var all []string
	for _, m := range rows {
		all = append(all, strings.ReplaceAll(m[1], `\|`, `|`))
	}
	first := slices.IndexFunc(all, func(l string) bool { return !slices.Contains(agreeing, l) }) + 1
	c.fails(fmt.Sprintf("line %d: the dialects read this line differently", first), strings.Join(all, "\n")+"\n", "seal", "-r", r, "-i", "-", "-o", "table.env")
	// The sops column, against sops encrypt and decrypt of all its rows at once.
	enc := c.mustSops([]byte(strings.Join(sopsLines, "\n")+"\n"), "encrypt", "--input-type", "dotenv", "--output-type", "dotenv", "--filename-override", "x.env", "--age", r)
	os.WriteFile(c.path("sops.env"), enc, 0o644)
	var fromSops map[string]string
	json.Unmarshal(c.mustSops(nil, "decrypt", "--output-type", "json", "sops.env"), &fromSops)
	if len(sopsWant) < 10 {
		t.Fatalf("only %d rows in the sops column", len(sopsWant))
	}
	for k, want := range sopsWant {
		if got, ok := fromSops[k]; !ok || got != want {
			t.Errorf("%s: the table says sops reads %q; sops reads %q", k, want, got)
		}
	}
	// What reveal prints, seal reads back: sops's dialect, and bash's.
	v1, v2 := secret(t, "it's a \"q\" $x"), secret(t, "multi\nline")
	c.ok("{\"A\": "+strconv.Quote(v1)+", \"B\": "+strconv.Quote(v2)+"}", "seal", "-r", r, "-i", "-", "-o", "rt.json")
	c.ok("", "seal", "-r", r, "-o", "rt.env")
	c.ok(v1+"\n", "set", "rt.env", "A")
	c.ok(v2, "set", "rt.env", "B", "--raw")
	dot := c.ok("", "reveal", "rt.env").stdout
	c.ok(dot, "seal", "-r", r, "-i", "-", "--dialect", "sops", "-o", "rt-sops.env")
	sh := c.ok("", "reveal", "--format", "shell", "rt.env").stdout
	c.ok(sh, "seal", "-r", r, "-i", "-", "--dialect", "shell", "-o", "rt-shell.env")
	os.WriteFile(c.path("rt.sh"), []byte(sh), 0o600)
	bashOut, _ := exec.Command("env", "-i", bash, "--noprofile", "--norc", "-c", `set -a; . "$1"; printf '%s\0%s' "$A" "$B"`, "bash", c.path("rt.sh")).Output()
	if string(bashOut) != v1+"\x00"+v2 {
		t.Error("bash does not read reveal --format shell back")
	}
	for _, f := range []string{"rt-sops.env", "rt-shell.env"} {
		if got := c.ok("", "reveal", f, "A").stdout + "|" + c.ok("", "reveal", f, "B").stdout; got != v1+"|"+v2 {
			t.Errorf("%s: reveal | seal changed the values", f)
		}
	}
}

// TestRefusedNames: a name the injector refuses at container start
// (NODE_OPTIONS, LD_PRELOAD, HTTPS_PROXY, an identity variable) is refused
// by every write, check, wrap and build, naming allow_names: in the
// policy; allowed there, it is written, checked clean, passed to sealenv
// inject --env, and carried into a wrapped image's entrypoint, whose
// injector then accepts exactly it.
func TestRefusedNames(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	policy := "version: 1\nenvironments:\n  - name: dev\n    bundle: dev.env\n    recipients: [{key: " + r + "}]\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.ok("", "seal", "--env", "dev")
	c.ok(secret(t, "tok")+"\n", "set", "--env", "dev", "API_TOKEN")
	before := digest(t, c.path("dev.env"))
	res := c.fails("add NODE_OPTIONS to allow_names: of environment dev in sealenv.yaml", "--require ./hook.js\n", "set", "--env", "dev", "NODE_OPTIONS")
	if !strings.Contains(res.stderr, "could change what code the program loads or runs") || !strings.Contains(res.stderr, "sealenv unset dev.env NODE_OPTIONS") {
		t.Errorf("set NODE_OPTIONS: %q", res.stderr)
	}
	c.fails("allow_names", "http://proxy.example:3128\n", "rotate", "--env", "dev", "HTTPS_PROXY", "--stdin")
	if digest(t, c.path("dev.env")) != before {
		t.Fatal("a refused write changed the bundle")
	}
	c.fails("list LD_PRELOAD under allow_names:", "A=1\nLD_PRELOAD=/tmp/x.so\n", "seal", "-r", r, "-i", "-", "-o", "other.env")
	c.fails("SOPS_AGE_KEY is an identity variable", "SOPS_AGE_KEY=x\n", "seal", "-r", r, "-i", "-", "-o", "other.env")
	if _, err := os.Stat(c.path("other.env")); err == nil {
		t.Fatal("seal wrote a bundle with a refused name")
	}
	// edit: the editor reopens with the reason on top.
	script := c.path("ed.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nn=$(cat "+c.path("round")+" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "+c.path("round")+"\n"+
		"case $n in\n1) echo 'GLIBC_TUNABLES=glibc.malloc.check=3' >> \"$1\";;\n2) grep -q '^# sealenv edit: ERROR: .*GLIBC_TUNABLES.*allow_names' \"$1\" && echo header > "+c.path("seen")+"; sed -i '/^GLIBC_TUNABLES=/d' \"$1\";;\nesac\n"), 0o755)
	ed := c.env
	c.env = append(append([]string{}, ed...), "EDITOR="+script)
	c.ok("", "edit", "--env", "dev")
	c.env = ed
	if seen, _ := os.ReadFile(c.path("seen")); string(seen) != "header\n" {
		t.Error("edit did not reopen the editor with the refusal on top")
	}
	if digest(t, c.path("dev.env")) != before {
		t.Fatal("the edit that was taken back changed the bundle")
	}
	// A sops edit adds one: check reports it, adopt refuses to record it.
	c.mustSops(nil, "set", "dev.env", `["NODE_OPTIONS"]`, `"--require ./hook.js"`)
	res = c.run("", "check")
	if res.code != 1 || !strings.Contains(res.stdout, "[dev] refused-name") || !strings.Contains(res.stdout, "allow_names") {
		t.Errorf("check: exit %d: %s", res.code, res.stdout)
	}
	c.fails("allow_names", "", "adopt", "--env", "dev")
	// Allowed in the policy.
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"    allow_names: [NODE_OPTIONS]\n"), 0o644)
	c.ok("", "adopt", "--env", "dev")
	if res := c.ok("", "check"); strings.Contains(res.stdout, "refused-name") {
		t.Errorf("check with allow_names: %s", res.stdout)
	}
	if got := c.ok("", "inject", "--env", "dev", "--no-access-log", "--", "printenv", "NODE_OPTIONS").stdout; got != "--require ./hook.js\n" {
		t.Errorf("inject --env: %q", got)
	}
	if res := c.run("", "inject", "--bundle", "dev.env", "--no-access-log", "--", "true"); res.code != 125 || !strings.Contains(res.stderr, "--allow-name NODE_OPTIONS") {
		t.Errorf("inject without the environment: exit %d: %s", res.code, res.stderr)
	}
	c.fails("add HTTPS_PROXY to allow_names:", "http://proxy.example:3128\n", "set", "--env", "dev", "HTTPS_PROXY")

	// wrap carries allow_names into the image; without them it refuses.
	inj := c.path("sealenv-inject")
	build := exec.Command("go", "build", "-o", inj, "github.com/sealenv/sealenv/cmd/sealenv-inject")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the injector: %s", out)
	}
	if out, err := exec.Command("go", "run", "github.com/sealenv/sealenv/examples/imagetool", "build", inj, c.path("app.tar"), "/app").CombinedOutput(); err != nil {
		t.Fatalf("building the image: %s", out)
	}
	c.ok("", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("wrapped"), "--bundle", "dev.env", "--injector", inj)
	cf, err := layoutImage(t, c.path("wrapped")).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	entry := strings.Join(cf.Config.Entrypoint, " ")
	if !strings.Contains(entry, "--allow-name NODE_OPTIONS --") || cf.Config.Labels["io.sealenv.wrap.allow_names"] != "NODE_OPTIONS" {
		t.Errorf("entrypoint %q, labels %v", entry, cf.Config.Labels)
	}
	// The injector accepts exactly what the entrypoint allows.
	run := func(args ...string) result {
		cmd := exec.Command(inj, append(append([]string{"--no-access-log", "--bundle", "dev.env"}, args...), "--", "printenv", "NODE_OPTIONS")...)
		cmd.Dir = c.dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
		return c.result(cmd)
	}
	if res := run("--allow-name", "NODE_OPTIONS"); res.code != 0 {
		t.Errorf("the wrapped entrypoint's flags: exit %d: %s", res.code, res.stderr)
	}
	if res := run(); res.code != 125 {
		t.Errorf("without --allow-name: exit %d", res.code)
	}
	// A docker archive written without a name gets the documented one.
	c.ok("", "wrap", "docker-archive:"+c.path("app.tar"), "docker-archive:"+c.path("wrapped.tar"), "--bundle", "dev.env", "--injector", inj)
	if tags := archiveTags(t, c.path("wrapped.tar")); len(tags) != 1 || tags[0] != "sealenv/wrapped:latest" {
		t.Errorf("docker-archive without a name: RepoTags %q", tags)
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.fails("add NODE_OPTIONS to allow_names: of environment dev", "", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("refused"), "--bundle", "dev.env", "--injector", inj)
	if _, err := os.Stat(c.path("refused")); err == nil {
		t.Error("wrap wrote an image whose injector would refuse to start")
	}
	// build refuses before it contacts BuildKit.
	os.WriteFile(c.path("Dockerfile"), []byte("FROM scratch\n"), 0o644)
	c.fails("allow_names", "", "build", "--env", "dev", "--addr", "unix://"+c.path("no-buildkit.sock"), "-o", "oci:"+c.path("built"), ".")
}

// TestSigningWithGitsSetup: git's usual SSH signing setup, gpg.format=ssh
// and user.signingkey=~/.ssh/id_ed25519.pub with no ssh-agent, signs
// bundles as it signs commits (git commit -S, the reference, runs in the
// same repository): with the private key beside the .pub. A key:: literal
// finds its private half among ~/.ssh's default keys.
func TestSigningWithGitsSetup(t *testing.T) {
	c := newParallelCLI(t)
	git := peer(t, "git")
	sshKeygen := peer(t, "ssh-keygen")
	var home string
	for _, kv := range c.env {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = h
		}
	}
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	key := filepath.Join(home, ".ssh", "id_ed25519")
	if out, err := exec.Command(sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "dev@example.com", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = c.dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1"}, c.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
	}
	run(git, "init", "-q")
	run(git, "config", "user.email", "dev@example.com")
	run(git, "config", "user.name", "Dev")
	run(git, "config", "gpg.format", "ssh")
	run(git, "config", "user.signingkey", "~/.ssh/id_ed25519.pub")
	// The reference: git signs a commit with this setup, no agent.
	run(git, "commit", "-q", "--allow-empty", "-S", "-m", "signed")
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("A="+secret(t, "a")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	verify := func(what string) {
		t.Helper()
		allowed := c.path("allowed_signers")
		os.WriteFile(allowed, []byte("dev@example.com "+string(pub)), 0o644)
		bundle, _ := os.Open(c.path("b.env"))
		defer bundle.Close()
		cmd := exec.Command(sshKeygen, "-Y", "verify", "-f", allowed, "-I", "dev@example.com", "-n", "bundle@sealenv.github.io", "-s", c.path("b.env.sig"))
		cmd.Stdin = bundle
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: ssh-keygen -Y verify: %v: %s", what, err, out)
		}
	}
	verify("seal")
	c.ok(secret(t, "b")+"\n", "set", "b.env", "B")
	verify("set")
	// A key:: literal, still no agent: the default key whose .pub it is.
	run(git, "config", "user.signingkey", "key::"+strings.TrimSpace(string(pub)))
	os.Remove(c.path("b.env.sig"))
	c.ok("", "sign", "b.env")
	verify("sign with key::")
	// A .pub whose private half is elsewhere: the error says where it looked.
	other := filepath.Join(home, "other")
	exec.Command(sshKeygen, "-q", "-t", "ed25519", "-N", "", "-f", other).Run()
	os.Remove(other)
	run(git, "config", "user.signingkey", other+".pub")
	c.fails("nor is its private half beside it", "", "sign", "b.env")
}

// gitRepo is a git repository in c's directory whose hooks find this test
// binary as sealenv on PATH.
// mustGit runs git (from [gitRepo]) and fails the test when it fails; it
// returns git's output.
func mustGit(t *testing.T, git func(args ...string) (string, error)) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := git(args...)
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return out
	}
}

func gitRepo(t *testing.T, c *runner) (git func(args ...string) (string, error), env []string) {
	t.Helper()
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nSEALENV_TEST_MAIN=1 exec " + strconv.Quote(os.Args[0]) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sealenv"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env = append([]string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}, c.env...)
	git = func(args ...string) (string, error) {
		cmd := exec.Command(peer(t, "git"), args...)
		cmd.Dir = c.dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := git("init", "-q", "-b", "main"); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	return git, env
}

// TestHookInstall: sealenv hook install writes the pre-commit and
// pre-merge-commit hooks where git runs them (core.hooksPath), refuses a
// hook it did not write unless --chain or --force, and real commits and
// merges of a plaintext .env are then stopped.
func TestHookInstall(t *testing.T) {
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := mustGit(t, git)
	must("config", "core.hooksPath", ".githooks")
	hooks := c.path(".githooks")
	os.MkdirAll(hooks, 0o755)
	ran := c.path("foreign-ran")
	foreign := "#!/bin/sh\necho ran >> " + ran + "\n"
	os.WriteFile(filepath.Join(hooks, "pre-commit"), []byte(foreign), 0o755)
	hook := func(args ...string) result {
		cmd := exec.Command(os.Args[0], append([]string{"hook", "install"}, args...)...)
		cmd.Dir = c.dir
		cmd.Env = append([]string{"SEALENV_TEST_MAIN=1"}, env...)
		return c.result(cmd)
	}
	if res := hook(); res.code != 2 || !strings.Contains(res.stderr, "--chain") || !strings.Contains(res.stderr, ".githooks/pre-commit") {
		t.Fatalf("install over a foreign hook: exit %d: %s", res.code, res.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(hooks, "pre-commit")); string(data) != foreign {
		t.Fatal("the refused install changed the foreign hook")
	}
	if res := hook("--chain"); res.code != 0 || !strings.Contains(res.stderr, ".githooks") {
		t.Fatalf("install --chain: exit %d: %s", res.code, res.stderr)
	}
	for _, h := range []string{"pre-commit", "pre-merge-commit", "pre-commit.sealenv-chained"} {
		if st, err := os.Stat(filepath.Join(hooks, h)); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("%s: %v", h, err)
		}
	}
	if res := hook(); res.code != 0 {
		t.Fatalf("installing again (an update): exit %d: %s", res.code, res.stderr)
	}
	os.WriteFile(c.path("README"), []byte("app\n"), 0o644)
	must("add", "README")
	must("commit", "-q", "-m", "base")
	if data, _ := os.ReadFile(ran); string(data) != "ran\n" {
		t.Errorf("the chained hook ran %q times", data)
	}
	// A plaintext .env is not committed.
	os.WriteFile(c.path(".env"), []byte("DB_PASSWORD="+secret(t, "pw")+secret(t, "pw")+"\n"), 0o644)
	must("add", ".env")
	if out, err := git("commit", "-q", "-m", "add .env"); err == nil {
		t.Fatalf("the pre-commit hook let a plaintext .env be committed: %s", out)
	}
	must("reset", "-q", "--", ".env")
	// Nor merged: committed on a branch past the hook (--no-verify), the
	// merge commit stops at pre-merge-commit.
	must("switch", "-q", "-c", "feature")
	must("add", ".env")
	must("commit", "-q", "--no-verify", "-m", "plaintext on a branch")
	must("switch", "-q", "main")
	os.WriteFile(c.path("CHANGES"), []byte("1\n"), 0o644)
	must("add", "CHANGES")
	must("commit", "-q", "-m", "main moves on")
	head := must("rev-parse", "HEAD")
	if out, err := git("merge", "--no-ff", "-m", "merge feature", "feature"); err == nil {
		t.Fatalf("the pre-merge-commit hook let the merge through: %s", out)
	}
	if must("rev-parse", "HEAD") != head {
		t.Fatal("a merge commit was made")
	}
	must("merge", "--abort")
	// --force replaces a foreign hook.
	os.WriteFile(filepath.Join(hooks, "pre-merge-commit"), []byte(foreign), 0o755)
	if res := hook("--force"); res.code != 0 || !strings.Contains(res.stderr, "replaced pre-merge-commit") {
		t.Errorf("install --force: exit %d: %s", res.code, res.stderr)
	}
	// Outside a repository: exit 2, one line.
	cmd := exec.Command(os.Args[0], "hook", "install")
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "GIT_CEILING_DIRECTORIES=" + filepath.Dir(cmd.Dir)}, env...)
	if res := c.result(cmd); res.code != 2 || !strings.Contains(res.stderr, "not in a git repository") {
		t.Errorf("outside a repository: exit %d: %s", res.code, res.stderr)
	}
}

// TestPreCommitFramework runs this repository's pre-commit hooks
// (.pre-commit-hooks.yaml, scripts/pre-commit-sealenv.sh) with the real
// pre-commit: sealenv-scan scans the files it is given (pre-commit run
// --all-files, --files of a file git does not track), and sealenv-check
// runs for a JSON bundle. The hooks' sealenv is this test binary, put where
// the script's download would be.
func TestPreCommitFramework(t *testing.T) {
	pc := peer(t, "pre-commit")
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := mustGit(t, git)
	// The hook repository, at a commit of this worktree's hook files.
	hooksRepo := t.TempDir()
	for _, f := range []string{".pre-commit-hooks.yaml", "scripts/pre-commit-sealenv.sh"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(hooksRepo, f)), 0o755)
		os.WriteFile(filepath.Join(hooksRepo, f), data, 0o755)
	}
	inHooks := func(args ...string) string {
		cmd := exec.Command(peer(t, "git"), args...)
		cmd.Dir = hooksRepo
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	inHooks("init", "-q", "-b", "main")
	inHooks("add", ".")
	inHooks("commit", "-q", "-m", "hooks")
	rev := inHooks("rev-parse", "HEAD")
	// The release the script runs: this binary, already "installed".
	version := strings.TrimPrefix(strings.TrimSpace(c.ok("", "--version").stdout), "sealenv ")
	cache := t.TempDir()
	os.MkdirAll(filepath.Join(cache, "sealenv", version), 0o755)
	wrapper := "#!/bin/sh\nSEALENV_TEST_MAIN=1 exec " + strconv.Quote(os.Args[0]) + " \"$@\"\n"
	os.WriteFile(filepath.Join(cache, "sealenv", version, "sealenv"), []byte(wrapper), 0o755)
	env = append(env, "XDG_CACHE_HOME="+cache, "SEALENV_HOOK_VERSION="+version, "PRE_COMMIT_HOME="+t.TempDir())

	r := c.keygen("key.txt")
	other := c.keygen("other.txt")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: dev, bundle: secrets/dev.json, recipients: [{key: "+r+"}]}\n"), 0o644)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok(`{"API_TOKEN": "`+strongSecret(t)+`"}`, "seal", "--env", "dev", "-i", "-")
	os.WriteFile(c.path(".pre-commit-config.yaml"), []byte("repos:\n  - repo: "+hooksRepo+"\n    rev: "+rev+"\n    hooks: [{id: sealenv-scan}, {id: sealenv-check}]\n"), 0o644)
	os.WriteFile(c.path(".gitignore"), []byte("key.txt\nother.txt\n"), 0o644)
	must("add", ".")
	must("commit", "-q", "--no-verify", "-m", "base")
	precommit := func(args ...string) result {
		cmd := exec.Command(pc, append([]string{"run"}, args...)...)
		cmd.Dir = c.dir
		cmd.Env = env
		return c.result(cmd)
	}
	if res := precommit("--all-files"); res.code != 0 {
		t.Fatalf("pre-commit run --all-files on a clean repository: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	// A file that git does not track, given by name: scanned.
	os.WriteFile(c.path("local.env"), []byte("DB_PASSWORD="+secret(t, "pw")+secret(t, "pw")+"\n"), 0o644)
	if res := precommit("sealenv-scan", "--files", "local.env"); res.code == 0 || !strings.Contains(res.stdout, "local.env") {
		t.Errorf("pre-commit run --files local.env: exit %d: %s", res.code, res.stdout)
	}
	os.Remove(c.path("local.env"))
	// A plaintext secret committed past the hooks: --all-files finds it.
	os.WriteFile(c.path("notes.env"), []byte("API_KEY="+secret(t, "k")+secret(t, "k")+"\n"), 0o644)
	must("add", "notes.env")
	must("commit", "-q", "--no-verify", "-m", "oops")
	if res := precommit("--all-files"); res.code == 0 || !strings.Contains(res.stdout, "notes.env") {
		t.Errorf("pre-commit run --all-files: exit %d: %s", res.code, res.stdout)
	}
	must("rm", "-q", "notes.env")
	must("commit", "-q", "--no-verify", "-m", "fixed")
	// The JSON bundle wrapped to a key the policy does not list: the check
	// hook runs for it alone.
	// (as another tool leaves it: sealenv's own writes refuse it, so the
	// policy lists the other key for the rekey, and drops it again)
	policy, _ := os.ReadFile(c.path("sealenv.yaml"))
	os.WriteFile(c.path("sealenv.yaml"), []byte(strings.Replace(string(policy), "recipients: [{key: "+r+"}]", "recipients: [{key: "+r+"}, {key: "+other+"}]", 1)), 0o644)
	c.ok("", "rekey", "secrets/dev.json", "-r", r, "-r", other)
	os.WriteFile(c.path("sealenv.yaml"), policy, 0o644)
	res := precommit("sealenv-check", "--files", "secrets/dev.json")
	if res.code == 0 || !strings.Contains(res.stdout, "recipient-removed") {
		t.Errorf("pre-commit run sealenv-check --files secrets/dev.json: exit %d: %s", res.code, res.stdout)
	}
	// With --from-ref (PRE_COMMIT_FROM_REF), the check hook reviews the
	// change: a recipient added since the base is reported with its commit.
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: dev, bundle: secrets/dev.json, recipients: [{key: "+r+"}, {key: "+other+"}]}\n"), 0o644)
	must("commit", "-q", "--no-verify", "-am", "add other")
	res = precommit("sealenv-check", "--from-ref", "HEAD~1", "--to-ref", "HEAD")
	if res.code == 0 || !strings.Contains(res.stdout, "recipient-added") || !strings.Contains(res.stdout, "t@example.com") {
		t.Errorf("pre-commit run sealenv-check --from-ref: exit %d: %s", res.code, res.stdout)
	}
}

// TestInit: sealenv init ignores .env and .env.* in git (never a bundle
// path), starts from an existing .sops.yaml's creation rules so that check
// finds no mismatch, and its template names only commands and flags that
// exist.
func TestInit(t *testing.T) {
	c := newParallelCLI(t)
	git, _ := gitRepo(t, c)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path(".gitignore"), []byte("node_modules/\n.env\n"), 0o644)
	res := c.ok("", "init")
	if !strings.Contains(res.stderr, "next: sealenv seal --env prod") {
		t.Errorf("init: %q", res.stderr)
	}
	gi, _ := os.ReadFile(c.path(".gitignore"))
	if strings.Count(string(gi), ".env\n") != 1 || !strings.Contains(string(gi), "\n.env.*\n") || !strings.HasPrefix(string(gi), "node_modules/\n") {
		t.Errorf(".gitignore: %q", gi)
	}
	c.ok("", "seal", "--env", "prod")
	for path, ignored := range map[string]bool{".env": true, "config/.env.local": true, "secrets/prod.env": false, "sealenv.yaml": false} {
		_, err := git("check-ignore", "-q", path)
		if (err == nil) != ignored {
			t.Errorf("git check-ignore %s: ignored=%v, want %v", path, err == nil, ignored)
		}
	}
	// The template: every sealenv command line in it exists.
	app := newApp(&env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv, now: time.Now})
	text, _ := os.ReadFile(c.path("sealenv.yaml"))
	mentions := regexp.MustCompile(`'(sealenv [^']*)'`).FindAllStringSubmatch(string(text), -1)
	if n := strings.Count(string(text), "sealenv ") - strings.Count(string(text), "# sealenv policy:"); n != len(mentions) {
		t.Errorf("the template names sealenv %d times, %d of them quoted as commands", n, len(mentions))
	}
	if len(mentions) < 3 {
		t.Fatalf("the template mentions %d commands: %q", len(mentions), mentions)
	}
	for _, m := range mentions {
		if msg := checkCommandLine(app, m[1]); msg != "" {
			t.Errorf("the template says %q: %s", m[1], msg)
		}
	}
	c.fails("already exists", "", "init")

	// With a .sops.yaml: the environments and keys come from its rules.
	d := newCLI(t)
	gitRepo(t, d)
	a := d.keygen("a.txt")
	b := d.keygen("b.txt")
	d.env = append(d.env, "SEALENV_AGE_KEY_FILE="+d.path("a.txt"))
	os.WriteFile(d.path(".sops.yaml"), []byte("creation_rules:\n  - path_regex: secrets/dev\\..*\n    age: "+a+","+b+"\n  - path_regex: secrets/.*\n    age: "+a+"\n"), 0o644)
	os.MkdirAll(d.path("secrets"), 0o755)
	d.ok("A=1\n", "seal", "-i", "-", "-o", "secrets/dev.env")
	d.ok(`{"B": "2"}`, "seal", "-i", "-", "-o", "secrets/prod.json")
	res = d.ok("", "init")
	if !strings.Contains(res.stderr, "2 environments: dev, prod, recipients from .sops.yaml") || !strings.Contains(res.stderr, "next: sealenv check") {
		t.Errorf("init with .sops.yaml: %q", res.stderr)
	}
	check := d.ok("", "check")
	if strings.Contains(check.stdout, "sops-config-mismatch") || !strings.Contains(check.stdout, "2 environments, 0 errors") {
		t.Errorf("check after init: %s", check.stdout)
	}
	os.Remove(d.path("sealenv.yaml"))
	d.fails("-r: the .sops.yaml creation rule names the keys", "", "init", "-r", b)
	if _, err := os.Stat(d.path("sealenv.yaml")); err == nil {
		t.Error("init wrote a policy that disagrees with .sops.yaml")
	}
	if !strings.Contains(string(text), "key: "+r) {
		t.Error("the policy without .sops.yaml does not name the identity's recipient")
	}
}

// TestDiffTextconv: with the documented .gitattributes and git config
// lines, git diff and git log -p show a bundle through sealenv diff: key
// names with a digest of each ciphertext (a changed value changes its
// line), recipients, and a signature's signer; no key, no value, no
// ciphertext. sealenv diff OLD NEW says what changed in words.
func TestDiffTextconv(t *testing.T) {
	c := newParallelCLI(t)
	git, _ := gitRepo(t, c)
	must := mustGit(t, git)
	// The lines docs/bundles.md gives.
	os.WriteFile(c.path(".gitattributes"), []byte("*.env diff=sealenv\n*.sig diff=sealenv\n"), 0o644)
	must("config", "diff.sealenv.textconv", "sealenv diff")
	r := c.keygen("key.txt")
	other := c.keygen("other.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	a1, b1 := secret(t, "a"), secret(t, "b")
	c.ok("A="+a1+"\nB="+b1+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	signKey := c.path("id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", signKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	c.ok("", "sign", "b.env", "--sign-key", signKey)
	os.WriteFile(c.path(".gitignore"), []byte("key.txt\nother.txt\nid_ed25519*\n"), 0o644)
	must("add", ".")
	must("commit", "-q", "-m", "v1")
	old := c.path("b-old.env")
	data, _ := os.ReadFile(c.path("b.env"))
	os.WriteFile(old, data, 0o644)
	// v2 is written and signed by someone else.
	signKey2 := c.path("id_ed25519_2")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", signKey2).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	signKey = signKey2
	a2 := secret(t, "a2")
	c.ok(a2+"\n", "set", "b.env", "A", "--sign-key", signKey)
	c.ok(secret(t, "c")+"\n", "set", "b.env", "C", "--sign-key", signKey)
	c.ok("", "unset", "b.env", "B", "--sign-key", signKey)
	c.ok("", "rekey", "b.env", "-r", r, "-r", other, "--sign-key", signKey)
	must("commit", "-q", "-am", "v2")
	for _, args := range [][]string{{"diff", "HEAD~1", "HEAD"}, {"log", "-p", "-1"}} {
		out := must(args...)
		for _, want := range []string{"-  A  ciphertext ", "+  A  ciphertext ", "-  B  ciphertext ", "+  C  ciphertext ", "+  " + other, "-signer: ssh-ed25519 SHA256:", "+signer: ssh-ed25519 SHA256:"} {
			if !strings.Contains(out, want) {
				t.Errorf("git %s lacks %q:\n%s", args[0], want, out)
			}
		}
		for _, leak := range []string{a1, a2, b1, "ENC[", "BEGIN SSH SIGNATURE"} {
			if strings.Contains(out, leak) {
				t.Errorf("git %s shows %q", args[0], leak[:4])
			}
		}
	}
	got := c.ok("", "diff", old, "b.env").stdout
	for _, want := range []string{"changed  A\n", "removed  B\n", "added    C\n", "recipient added    " + other + "\n", "0 keys unchanged\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("sealenv diff OLD NEW lacks %q:\n%s", want, got)
		}
	}
	// A plaintext file is named, never shown.
	os.WriteFile(c.path("plain.env"), []byte("A="+a1+"\n"), 0o644)
	if got := c.ok("", "diff", "plain.env").stdout; strings.Contains(got, a1) || !strings.Contains(got, "not a sealed bundle") {
		t.Errorf("sealenv diff plain.env: %q", strings.ReplaceAll(got, a1, "<a1>"))
	}
}

// archiveTags reads the RepoTags of a docker archive's manifest.json.
func archiveTags(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no manifest.json: %v", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil || len(m) != 1 {
			t.Fatalf("%s: manifest.json: %v", path, err)
		}
		return m[0].RepoTags
	}
}
