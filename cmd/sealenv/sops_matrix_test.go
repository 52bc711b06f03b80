package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// The matrix of part one of issue 12: every sops operation, on every store,
// followed by every sealenv command that reads a bundle and by the slim
// injector, then by sealenv adopt. Each run is the real sops v3.13.3 CLI
// and the real binaries.

var (
	injectorOnce sync.Once
	injectorPath string
	injectorErr  error
)

// removeInjectorBinary removes what injectorBinary built (TestMain calls
// it after the tests).
func removeInjectorBinary() {
	if injectorPath != "" {
		os.RemoveAll(filepath.Dir(injectorPath))
	}
}

// injectorBinary builds cmd/sealenv-inject once per test binary.
func injectorBinary(t *testing.T) string {
	t.Helper()
	injectorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sealenv-inject-bin")
		if err != nil {
			injectorErr = err
			return
		}
		injectorPath = filepath.Join(dir, "sealenv-inject")
		out, err := exec.Command("go", "build", "-o", injectorPath, "github.com/sealenv/sealenv/cmd/sealenv-inject").CombinedOutput()
		if err != nil {
			injectorErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if injectorErr != nil {
		t.Fatal(injectorErr)
	}
	return injectorPath
}

// sops runs the sops CLI in c's directory with c's environment (which holds
// the identity as SOPS_AGE_KEY_FILE, never a key in argv).
func (c *runner) sops(stdin []byte, args ...string) ([]byte, error) {
	c.t.Helper()
	cmd := exec.Command(peer(c.t, "sops", filepath.Join(os.Getenv("HOME"), "go/bin/sops")), args...)
	cmd.Dir = c.dir
	// sops edit writes its plaintext copy to TMPDIR: the test's own directory.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + c.dir}, c.env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("sops %s: %v: %s", args[0], err, firstLineOf(stderr.String()))
	}
	return out, nil
}

func (c *runner) mustSops(stdin []byte, args ...string) []byte {
	c.t.Helper()
	out, err := c.sops(stdin, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// runInjector runs the slim injector on a bundle with a command that
// prints its environment.
func (c *runner) runInjector(bundle string) result {
	c.t.Helper()
	cmd := exec.Command(injectorBinary(c.t), "--bundle", bundle, "--", "/usr/bin/env")
	cmd.Dir = c.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
	return c.result(cmd)
}

// plainFor renders values (in order) as plaintext of a store, as sops
// encrypt reads it.
func plainFor(f seal.Format, order []string, values map[string]string) []byte {
	var b strings.Builder
	switch f {
	case seal.FormatJSON:
		b.WriteString("{")
		for i, k := range order {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q: %q", k, values[k])
		}
		b.WriteString("}\n")
	case seal.FormatYAML:
		for _, k := range order {
			fmt.Fprintf(&b, "%s: %q\n", k, values[k])
		}
	default:
		for _, k := range order {
			fmt.Fprintf(&b, "%s=%s\n", k, values[k])
		}
	}
	return []byte(b.String())
}

// sopsOp is one thing a teammate does with sops to a bundle sealenv wrote
// with A, B (values) and FLAG (empty).
type sopsOp struct {
	name string
	// edit is a sed script per store for sops edit (EDITOR), or nil.
	edit map[seal.Format]string
	// run does the operation otherwise.
	run func(c *runner, f seal.Format, bundle string, v map[string]string)
	// want: the values after the operation, the changes sealenv must see
	// (name: kind), and which of them nothing authenticates.
	want    func(v map[string]string) map[string]string
	changes map[string]seal.ChangeKind
	unauth  []string
	// notRecorded: the result is a SOPS file sealenv never wrote.
	notRecorded bool
	// checkRule: a further rule check must report (recipients).
	checkRule string
}

func sed(dotenv, yaml, json string) map[seal.Format]string {
	return map[seal.Format]string{seal.FormatDotenv: dotenv, seal.FormatYAML: yaml, seal.FormatJSON: json}
}

func with(kv ...string) func(map[string]string) map[string]string {
	return func(v map[string]string) map[string]string {
		out := map[string]string{}
		for k, x := range v {
			if k != "NEW" {
				out[k] = x
			}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "\x00" {
				delete(out, kv[i])
				continue
			}
			out[kv[i]] = strings.NewReplacer("$A", v["A"], "$B", v["B"], "$NEW", v["NEW"]).Replace(kv[i+1])
		}
		return out
	}
}

const gone = "\x00"

func sopsOps() []sopsOp {
	return []sopsOp{
		{name: "edit-change", edit: sed(`s/^A=.*/A=$NEW/`, `s/^A: .*/A: $NEW/`, `s/"A": "[^"]*"/"A": "$NEW"/`),
			want: with("A", "$NEW"), changes: map[string]seal.ChangeKind{"A": seal.ChangeModified}},
		{name: "edit-add", edit: sed(`$a C=$NEW`, `$a C: $NEW`, `1a "C": "$NEW",`),
			want: with("C", "$NEW"), changes: map[string]seal.ChangeKind{"C": seal.ChangeAdded}},
		{name: "edit-add-empty", edit: sed(`$a EMPTY_TWO=`, `$a EMPTY_TWO: ""`, `1a "EMPTY_TWO": "",`),
			want: with("EMPTY_TWO", ""), changes: map[string]seal.ChangeKind{"EMPTY_TWO": seal.ChangeAdded}, unauth: []string{"EMPTY_TWO"}},
		{name: "edit-fill", edit: sed(`s/^FLAG=$/FLAG=enabled/`, `s/^FLAG: .*/FLAG: enabled/`, `s/"FLAG": ""/"FLAG": "enabled"/`),
			want: with("FLAG", "enabled"), changes: map[string]seal.ChangeKind{"FLAG": seal.ChangeFilled}},
		{name: "edit-empty", edit: sed(`s/^B=.*/B=/`, `s/^B: .*/B: ""/`, `s/"B": "[^"]*"/"B": ""/`),
			want: with("B", ""), changes: map[string]seal.ChangeKind{"B": seal.ChangeEmptied}, unauth: []string{"B"}},
		{name: "edit-remove", edit: sed(`/^A=/d`, `/^A: /d`, `/"A": /d`),
			want: with("A", gone), changes: map[string]seal.ChangeKind{"A": seal.ChangeRemoved}},
		{name: "edit-remove-empty", edit: sed(`/^FLAG=/d`, `/^FLAG: /d`, `/"FLAG": /d`),
			want: with("FLAG", gone), changes: map[string]seal.ChangeKind{"FLAG": seal.ChangeRemoved}, unauth: []string{"FLAG"}},
		{name: "edit-rename", edit: sed(`s/^A=/A2=/`, `s/^A: /A2: /`, `s/"A": /"A2": /`),
			want: with("A", gone, "A2", "$A"), changes: map[string]seal.ChangeKind{"A2": seal.ChangeAdded, "A": seal.ChangeRemoved}},
		{name: "edit-rename-empty", edit: sed(`s/^FLAG=/FLAG2=/`, `s/^FLAG: /FLAG2: /`, `s/"FLAG": /"FLAG2": /`),
			want: with("FLAG", gone, "FLAG2", ""), changes: map[string]seal.ChangeKind{"FLAG2": seal.ChangeAdded, "FLAG": seal.ChangeRemoved}, unauth: []string{"FLAG2", "FLAG"}},
		{name: "set", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			c.mustSops(nil, "set", bundle, `["B"]`, `"`+v["NEW"]+`"`)
		}, want: with("B", "$NEW"), changes: map[string]seal.ChangeKind{"B": seal.ChangeModified}},
		{name: "set-new-key", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			c.mustSops(nil, "set", bundle, `["D"]`, `"`+v["NEW"]+`"`)
		}, want: with("D", "$NEW"), changes: map[string]seal.ChangeKind{"D": seal.ChangeAdded}},
		{name: "unset", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			c.mustSops(nil, "unset", bundle, `["B"]`)
		}, want: with("B", gone), changes: map[string]seal.ChangeKind{"B": seal.ChangeRemoved}},
		{name: "unset-empty", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			c.mustSops(nil, "unset", bundle, `["FLAG"]`)
		}, want: with("FLAG", gone), changes: map[string]seal.ChangeKind{"FLAG": seal.ChangeRemoved}, unauth: []string{"FLAG"}},
		{name: "rotate", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			c.mustSops(nil, "rotate", "-i", bundle)
		}, want: with(), changes: map[string]seal.ChangeKind{"A": seal.ChangeReencrypted, "B": seal.ChangeReencrypted}},
		{name: "updatekeys", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			conf := "creation_rules:\n  - path_regex: .*\n    age: " + v["R"] + "," + v["R2"] + "\n"
			if err := os.WriteFile(c.path(".sops.yaml"), []byte(conf), 0o644); err != nil {
				c.t.Fatal(err)
			}
			c.mustSops(nil, "updatekeys", "-y", bundle)
		}, want: with(), changes: map[string]seal.ChangeKind{}, checkRule: "recipient-removed"},
		{name: "decrypt-encrypt", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			plain := c.mustSops(nil, "decrypt", bundle)
			enc := c.mustSops(plain, "encrypt", "--input-type", f.String(), "--output-type", f.String(), "--filename-override", bundle, "--age", v["R"])
			if err := os.WriteFile(c.path(bundle), enc, 0o644); err != nil {
				c.t.Fatal(err)
			}
		}, want: with(), changes: map[string]seal.ChangeKind{"A": seal.ChangeReencrypted, "B": seal.ChangeReencrypted}},
		{name: "encrypt-from-scratch", run: func(c *runner, f seal.Format, bundle string, v map[string]string) {
			plain := plainFor(f, []string{"A", "B", "FLAG"}, v)
			enc := c.mustSops(plain, "encrypt", "--input-type", f.String(), "--output-type", f.String(), "--filename-override", bundle, "--age", v["R"])
			if err := os.WriteFile(c.path(bundle), enc, 0o644); err != nil {
				c.t.Fatal(err)
			}
		}, want: with(), unauth: []string{"FLAG"}, notRecorded: true},
	}
}

type showJSON struct {
	Recorded bool `json:"recorded"`
	Keys     []struct {
		Name  string     `json:"name"`
		Empty bool       `json:"empty"`
		Set   *time.Time `json:"set"`
	} `json:"keys"`
	Changes []struct {
		Name          string `json:"name"`
		Kind          string `json:"kind"`
		Authenticated bool   `json:"authenticated"`
	} `json:"changes"`
	Unauthenticated []string `json:"unauthenticated"`
}

// TestSopsMatrix runs every sops operation on every store (under -short,
// every operation on one store, the store changing from one operation to
// the next).
func TestSopsMatrix(t *testing.T) {
	t.Parallel()
	for i, op := range sopsOps() {
		for j, f := range seal.Formats() {
			if testing.Short() && i%len(seal.Formats()) != j {
				continue
			}
			t.Run(f.String()+"/"+op.name, func(t *testing.T) { runSopsOp(t, f, op) })
		}
	}
}

func runSopsOp(t *testing.T, f seal.Format, op sopsOp) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	r2 := c.keygen("key2.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"), "SEALENV_SHM_DIR="+c.dir)
	bundle := "b." + map[seal.Format]string{seal.FormatDotenv: "env", seal.FormatYAML: "yaml", seal.FormatJSON: "json"}[f]
	v := map[string]string{"A": secret(t, "a"), "B": secret(t, "b"), "FLAG": ""}
	secrets := map[string]string{"A": v["A"], "B": v["B"]}
	c.ok(string(plainFor(f, []string{"A", "B", "FLAG"}, v)), "seal", "-r", r, "--store", f.String(), "-i", "-", "-o", bundle)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: "+bundle+", recipients: [{key: "+r+"}]}\n"), 0o644)
	if res := c.run("", "check"); res.code != 0 {
		t.Fatalf("check before: exit %d\n%s", res.code, res.stdout)
	}

	ctx := map[string]string{"A": v["A"], "B": v["B"], "FLAG": "", "NEW": secret(t, "n"), "R": r, "R2": r2}
	secrets["NEW"] = ctx["NEW"]
	if op.edit != nil {
		// The new value reaches the editor in its environment, never in a
		// file: the script puts it into the sed expression.
		script := c.path("editor.sh")
		body := "#!/bin/sh\nexpr=$(printf '%s' \"$TEST_SED\" | sed \"s|[$]NEW|$TEST_NEW|g\")\nexec sed -i -e \"$expr\" \"$1\"\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		env := c.env
		c.env = append(c.env, "EDITOR="+script, "TEST_SED="+op.edit[f], "TEST_NEW="+ctx["NEW"])
		c.mustSops(nil, "edit", bundle)
		c.env = env
	} else {
		op.run(c, f, bundle, ctx)
	}
	wantValues := op.want(map[string]string{"A": v["A"], "B": v["B"], "FLAG": "", "NEW": ctx["NEW"]})
	unauth := len(op.unauth) > 0

	// show, without a key: what changed, and what is not authenticated.
	show := c.ok("", "show", bundle)
	if strings.Contains(show.stdout, "0001-01-01") {
		t.Errorf("show prints a zero time:\n%s", show.stdout)
	}
	for name, kind := range op.changes {
		if !strings.Contains(show.stdout, name) {
			t.Errorf("show does not name %s (%s):\n%s", name, kind, show.stdout)
		}
	}
	if strings.Contains(show.stdout, "NOT AUTHENTICATED") != (unauth && !op.notRecorded) {
		t.Errorf("show and NOT AUTHENTICATED (want %v):\n%s", unauth, show.stdout)
	}
	var sj showJSON
	if err := json.Unmarshal([]byte(c.ok("", "show", "--format", "json", bundle).stdout), &sj); err != nil {
		t.Fatal(err)
	}
	got := map[string]seal.ChangeKind{}
	for _, ch := range sj.Changes {
		got[ch.Name] = seal.ChangeKind(ch.Kind)
		if ch.Authenticated == slices.Contains(op.unauth, ch.Name) {
			t.Errorf("show --format json: %s authenticated=%v", ch.Name, ch.Authenticated)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(op.changes) {
		t.Errorf("show --format json: changes %v, want %v", got, op.changes)
	}
	if !sameSet(sj.Unauthenticated, op.unauth) || sj.Recorded == op.notRecorded {
		t.Errorf("show --format json: unauthenticated %v (want %v), recorded %v", sj.Unauthenticated, op.unauth, sj.Recorded)
	}
	for _, k := range sj.Keys {
		if k.Empty != (wantValues[k.Name] == "") {
			t.Errorf("show --format json: %s empty=%v", k.Name, k.Empty)
		}
	}

	// reveal, with the key: every value, and the same report on stderr.
	rev := c.ok("", "reveal", "--format", "json", bundle)
	var values map[string]string
	if err := json.Unmarshal([]byte(rev.stdout), &values); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(values) != fmt.Sprint(wantValues) {
		t.Errorf("reveal: keys %v, want %v", sortedKeys(values), sortedKeys(wantValues))
	}
	for _, name := range op.unauth {
		if !strings.Contains(rev.stderr, name) {
			t.Errorf("reveal's stderr does not name %s: %q", name, rev.stderr)
		}
	}
	for name := range op.changes {
		if !op.notRecorded && !strings.Contains(rev.stderr, name) {
			t.Errorf("reveal's stderr does not name %s: %q", name, rev.stderr)
		}
	}

	// check, with and without the key.
	for _, args := range [][]string{{"check"}, {"check", "--no-identity"}} {
		res := c.run("", args...)
		wantCode := 0
		if unauth || op.checkRule != "" {
			wantCode = 1
		}
		if res.code != wantCode {
			t.Errorf("%v: exit %d, want %d\n%s", args, res.code, wantCode, res.stdout)
		}
		if strings.Contains(res.stdout, "unauthenticated-key") != unauth {
			t.Errorf("%v: unauthenticated-key (want %v):\n%s", args, unauth, res.stdout)
		}
		if op.checkRule != "" && !strings.Contains(res.stdout, op.checkRule) {
			t.Errorf("%v: no %s:\n%s", args, op.checkRule, res.stdout)
		}
		for name := range op.changes {
			if !strings.Contains(res.stdout, "["+"prod] ") || !strings.Contains(res.stdout, name) {
				t.Errorf("%v does not name %s:\n%s", args, name, res.stdout)
			}
		}
	}

	// the injector, and sealenv inject: refuse exactly what nothing
	// authenticates, naming the keys and the one command that fixes it.
	inj := c.runInjector(bundle)
	sin := c.run("", "inject", "--bundle", bundle, "--", "/usr/bin/env")
	for _, res := range []result{inj, sin} {
		if unauth {
			if res.code != 125 || res.stdout != "" || !strings.Contains(res.stderr, "sealenv adopt "+bundle) {
				t.Errorf("injector: exit %d, want 125 naming sealenv adopt: %q", res.code, res.stderr)
			}
			for _, name := range op.unauth {
				if !strings.Contains(res.stderr, name) {
					t.Errorf("injector: %q does not name %s", res.stderr, name)
				}
			}
			continue
		}
		if res.code != 0 {
			t.Errorf("injector: exit %d: %s", res.code, res.stderr)
			continue
		}
		for k, want := range wantValues {
			if !strings.Contains(res.stdout, "\n"+k+"="+want+"\n") {
				t.Errorf("injector: %s differs or is missing", k)
			}
		}
	}
	noSecret(t, inj.stderr+sin.stderr+show.stdout, secrets)

	// a write refuses until the review; the file stays as it was.
	before := digest(t, c.path(bundle))
	if res := c.run("x", "set", bundle, "OTHER"); unauth && (res.code != 2 || !strings.Contains(res.stderr, "sealenv adopt "+bundle)) {
		t.Errorf("set: exit %d: %s", res.code, res.stderr)
	}
	if unauth && digest(t, c.path(bundle)) != before {
		t.Fatal("a refused write changed the bundle")
	}

	// sealenv adopt records the file; then everything agrees again.
	c.ok("", "adopt", bundle)
	if err := json.Unmarshal([]byte(c.ok("", "show", "--format", "json", bundle).stdout), &sj); err != nil {
		t.Fatal(err)
	}
	if len(sj.Changes) != 0 || len(sj.Unauthenticated) != 0 || !sj.Recorded {
		t.Errorf("after adopt: %+v", sj)
	}
	for _, k := range sj.Keys {
		if k.Set == nil || k.Set.IsZero() || k.Set.Year() < 2000 {
			t.Errorf("after adopt: %s has no set time", k.Name)
		}
	}
	if res := c.runInjector(bundle); res.code != 0 {
		t.Errorf("injector after adopt: exit %d: %s", res.code, res.stderr)
	}
	if res := c.run("", "check"); (res.code == 0) != (op.checkRule == "") {
		t.Errorf("check after adopt: exit %d\n%s", res.code, res.stdout)
	}
	plain := c.mustSops(nil, "decrypt", "--output-type", "json", bundle)
	for k, want := range wantValues {
		if !bytes.Contains(plain, []byte(fmt.Sprintf("%q: %q", k, want))) {
			t.Errorf("sops decrypt after adopt: %s differs", k)
		}
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func noSecret(t *testing.T, out string, secrets map[string]string) {
	t.Helper()
	for k, v := range secrets {
		if v != "" && strings.Contains(out, v) {
			t.Fatalf("the value of %s reached the output", k)
		}
	}
}

// TestMaxAgeSeesChangesByOtherTools: a value changed with sops set restarts
// its max_age clock at the file's lastmodified, without any key; a value
// sops did not touch keeps its own.
func TestMaxAgeSeesChangesByOtherTools(t *testing.T) {
	c := newParallelCLI(t)
	c.keygen("key.txt")
	c.env = append(c.env, "SOPS_AGE_KEY_FILE="+c.path("key.txt"), "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	data, err := os.ReadFile(c.path("key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := ids[0].(*age.X25519Identity).Recipient().String()
	b, err := author.New(seal.FormatDotenv, []string{r})
	if err != nil {
		t.Fatal(err)
	}
	b.Now = func() time.Time { return time.Now().Add(-100 * 24 * time.Hour) }
	b.Set("OLD", []byte(secret(t, "o")))
	b.Set("CHANGED", []byte(secret(t, "c")))
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.path("b.env"), out, 0o644)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\ndefaults: {max_age: 30d}\n"), 0o644)
	if res := c.run("", "check", "--no-identity"); res.code != 1 || strings.Count(res.stdout, "max-age") != 2 {
		t.Fatalf("before: exit %d\n%s", res.code, res.stdout)
	}
	c.mustSops(nil, "set", "b.env", `["CHANGED"]`, `"`+secret(t, "n")+`"`)
	res := c.run("", "check", "--no-identity")
	if res.code != 1 || !strings.Contains(res.stdout, "OLD is 100d old") || strings.Contains(res.stdout, "CHANGED is") {
		t.Fatalf("after sops set: exit %d\n%s", res.code, res.stdout)
	}
	if !strings.Contains(res.stdout, "changed-outside-sealenv") {
		t.Errorf("check does not report the change:\n%s", res.stdout)
	}
	show := c.ok("", "show", "b.env").stdout
	if !strings.Contains(show, "CHANGED  changed by another tool at ") {
		t.Errorf("show:\n%s", show)
	}
	// sops rotate re-encrypts every value: the clocks keep running. What
	// changed before the rotation and was not recorded is then due too
	// early (never too late); a sealenv write in between records it.
	c.ok("", "adopt", "b.env")
	c.mustSops(nil, "rotate", "-i", "b.env")
	res = c.run("", "check", "--no-identity")
	if res.code != 1 || !strings.Contains(res.stdout, "OLD is 100d old") || strings.Contains(res.stdout, "CHANGED is") {
		t.Fatalf("after adopt and sops rotate: exit %d\n%s", res.code, res.stdout)
	}
	if !strings.Contains(res.stdout, "OLD re-encrypted by another tool") {
		t.Errorf("check does not report the re-encryption:\n%s", res.stdout)
	}
}

// TestAdoptsEverySopsRule: a SOPS file written with any suffix or regular
// expression rule sops allows is adopted, read with and without a key, run
// by the injector, edited by sealenv, and still read by sops; a later sops
// edit is seen. Every rule on every store; under -short, each rule on one.
func TestAdoptsEverySopsRule(t *testing.T) {
	rules := []struct {
		flag, value string
		plainKey    string // a key the rule leaves unencrypted
		setKey      string // a key the rule encrypts
	}{
		{"--unencrypted-suffix", "_plain", "HOST_plain", "TOKEN"},
		{"--unencrypted-regex", "^HOST$", "HOST", "TOKEN"},
		{"--encrypted-suffix", "_secret", "HOST", "TOKEN_secret"},
		{"--encrypted-regex", "^(TOKEN|PASS)", "HOST", "PASSWORD"},
	}
	t.Parallel()
	for i, rule := range rules {
		for j, f := range seal.Formats() {
			if testing.Short() && i%len(seal.Formats()) != j {
				continue // under -short, each rule on one store
			}
			t.Run(f.String()+rule.flag, func(t *testing.T) {
				c := newParallelCLI(t)
				r := c.keygen("key.txt")
				c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
				bundle := "b." + map[seal.Format]string{seal.FormatDotenv: "env", seal.FormatYAML: "yaml", seal.FormatJSON: "json"}[f]
				tok := secret(t, "t")
				v := map[string]string{rule.setKey: tok, rule.plainKey: "db.internal", "FLAG": ""}
				plain := plainFor(f, []string{rule.setKey, rule.plainKey, "FLAG"}, v)
				enc := c.mustSops(plain, "encrypt", "--input-type", f.String(), "--output-type", f.String(), "--filename-override", bundle, rule.flag, rule.value, "--age", r)
				os.WriteFile(c.path(bundle), enc, 0o644)
				if res := c.runInjector(bundle); res.code != 125 || !strings.Contains(res.stderr, "sealenv adopt") {
					t.Fatalf("injector before adopt: exit %d: %s", res.code, res.stderr)
				}
				// The value the rule leaves in plaintext is named, and
				// adopting it needs --allow-plaintext.
				res := c.fails(rule.plainKey+" is stored unencrypted", "", "adopt", bundle)
				if !strings.Contains(res.stderr, "--allow-plaintext "+rule.plainKey) || strings.Contains(res.stderr, "db.internal") {
					t.Errorf("adopt of a plaintext value: %s", res.stderr)
				}
				c.ok("", "adopt", "--allow-plaintext", rule.plainKey, bundle)
				if res := c.runInjector(bundle); res.code != 0 || !strings.Contains(res.stdout, "\n"+rule.setKey+"="+tok+"\n") || !strings.Contains(res.stdout, "\n"+rule.plainKey+"=db.internal\n") {
					t.Fatalf("injector after adopt: exit %d: %s", res.code, res.stderr)
				}
				var sj showJSON
				if err := json.Unmarshal([]byte(c.ok("", "show", "--format", "json", bundle).stdout), &sj); err != nil {
					t.Fatal(err)
				}
				encryptedMeta := strings.Contains(string(mustRead(t, c.path(bundle))), `sealenv_unencrypted": "ENC[`) ||
					strings.Contains(string(mustRead(t, c.path(bundle))), "sealenv_unencrypted: ENC[") ||
					strings.Contains(string(mustRead(t, c.path(bundle))), "sealenv_unencrypted=ENC[")
				if sj.Recorded == encryptedMeta {
					t.Errorf("show: recorded %v with the metadata encrypted %v", sj.Recorded, encryptedMeta)
				}
				// sealenv writes under the file's rule; sops reads it.
				newTok := secret(t, "n")
				c.ok(newTok, "set", bundle, rule.setKey)
				if res := c.run("x", "set", bundle, "NOT_COVERED_x"); rule.flag != "--unencrypted-suffix" && rule.flag != "--unencrypted-regex" && res.code != 2 {
					t.Errorf("set of a key the rule leaves in plaintext: exit %d", res.code)
				}
				out := c.mustSops(nil, "decrypt", "--output-type", "json", bundle)
				if !bytes.Contains(out, []byte(fmt.Sprintf("%q: %q", rule.setKey, newTok))) || !bytes.Contains(out, []byte(`"db.internal"`)) {
					t.Errorf("sops decrypt after sealenv set: %d bytes", len(out))
				}
				// A sops edit is seen, with a key.
				c.mustSops(nil, "set", bundle, `["`+rule.setKey+`"]`, `"`+secret(t, "s")+`"`)
				rev := c.ok("", "reveal", bundle)
				if !strings.Contains(rev.stderr, rule.setKey+" changed") {
					t.Errorf("reveal after sops set: %q", rev.stderr)
				}
				noSecret(t, rev.stderr, map[string]string{"t": tok, "n": newTok})
			})
		}
	}
}

// TestSealHonoursSopsConfig: seal without -r takes the keys and the
// encryption rules of the .sops.yaml creation rule for the path, or
// $SOPS_AGE_RECIPIENTS, where sops would; check reports where .sops.yaml and
// sealenv.yaml disagree.
func TestSealHonoursSopsConfig(t *testing.T) {
	c := newParallelCLI(t)
	r1, r2, r3 := c.keygen("k1.txt"), c.keygen("k2.txt"), c.keygen("k3.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("k1.txt"), "SOPS_AGE_KEY_FILE="+c.path("k1.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	conf := "creation_rules:\n  - path_regex: secrets/.*\\.env$\n    age: " + r1 + "," + r2 + "\n    encrypted_regex: ^(TOKEN|PASS)\n  - path_regex: ^other/\n    age: " + r3 + "\n"
	os.WriteFile(c.path(".sops.yaml"), []byte(conf), 0o644)

	res := c.ok("TOKEN="+secret(t, "t")+"\n", "seal", "-i", "-", "-o", "secrets/prod.env")
	if !strings.Contains(res.stderr, "recipients from ") || !strings.Contains(res.stderr, ".sops.yaml") {
		t.Errorf("seal does not say where the recipients came from: %q", res.stderr)
	}
	data := string(mustRead(t, c.path("secrets/prod.env")))
	if !strings.Contains(data, r1) || !strings.Contains(data, r2) || strings.Contains(data, r3) || !strings.Contains(data, "sops_encrypted_regex=^(TOKEN|PASS)") {
		t.Fatalf("the bundle does not follow the creation rule:\n%s", data)
	}
	// sops agrees: updatekeys finds nothing to change, and reads it.
	c.mustSops(nil, "updatekeys", "-y", "secrets/prod.env")
	if string(mustRead(t, c.path("secrets/prod.env"))) != data {
		t.Error("sops updatekeys changed a bundle sealed from the same .sops.yaml")
	}
	// The rule's encryption rules also apply with -r.
	c.ok("", "seal", "-r", r3, "-o", "secrets/dev.env")
	if d := string(mustRead(t, c.path("secrets/dev.env"))); !strings.Contains(d, "sops_encrypted_regex=") || strings.Contains(d, r1) {
		t.Errorf("seal -r with a creation rule:\n%s", d)
	}
	// No rule matches: sops would fail, so does seal without -r.
	c.fails("no creation rule matches", "", "seal", "-o", "elsewhere.env")
	// $SOPS_AGE_RECIPIENTS is sops's --age: it wins over .sops.yaml.
	c.env = append(c.env, "SOPS_AGE_RECIPIENTS="+r3+" , "+r2)
	c.ok("", "seal", "-o", "secrets/ci.env")
	if d := string(mustRead(t, c.path("secrets/ci.env"))); !strings.Contains(d, r3) || !strings.Contains(d, r2) || strings.Contains(d, r1) {
		t.Errorf("seal with SOPS_AGE_RECIPIENTS:\n%s", d)
	}
	c.env = c.env[:len(c.env)-1]

	// check: the policy lists r1 and r3, .sops.yaml r1 and r2.
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: secrets/prod.env, recipients: [{key: "+r1+"}, {key: "+r2+"}]}\n"), 0o644)
	if res := c.run("", "check"); res.code != 0 {
		t.Fatalf("check with agreeing configurations: exit %d\n%s", res.code, res.stdout)
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: secrets/prod.env, recipients: [{key: "+r1+", owner: alice}, {key: "+r3+", owner: carol}]}\n"), 0o644)
	res = c.run("", "check", "--no-identity")
	if res.code != 1 || !strings.Contains(res.stdout, "sops-config-mismatch") || !strings.Contains(res.stdout, "carol") || !strings.Contains(res.stdout, "only .sops.yaml lists") {
		t.Fatalf("check: exit %d\n%s", res.code, res.stdout)
	}
	// $SOPS_CONFIG names another configuration, as for sops.
	os.WriteFile(c.path("alt.yaml"), []byte("creation_rules:\n  - age: "+r1+","+r3+"\n"), 0o644)
	c.env = append(c.env, "SOPS_CONFIG="+c.path("alt.yaml"))
	if res := c.run("", "check", "--no-identity"); strings.Contains(res.stdout, "sops-config-mismatch") {
		t.Errorf("check with SOPS_CONFIG:\n%s", res.stdout)
	}
}

// TestMetadataPlaceTradeOff documents why sealenv's metadata is a value
// that sops exec-env and sops decrypt show: sops keeps no other place that
// its MAC covers. An unknown sops_* line of a dotenv file and an unknown
// field of the YAML sops block are dropped by the next sops write (if this
// test starts failing, sops keeps them now: reconsider docs/bundles.md).
// The sealenv injector never passes the metadata on.
func TestMetadataPlaceTradeOff(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("A="+secret(t, "a")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("b.env"), append(mustRead(t, c.path("b.env")), "sops_sealenv={}\n"...), 0o644)
	c.mustSops(nil, "set", "b.env", `["A"]`, `"`+secret(t, "n")+`"`)
	if bytes.Contains(mustRead(t, c.path("b.env")), []byte("sops_sealenv")) {
		t.Error("sops kept an unknown sops_ line")
	}
	c.ok("A: "+secret(t, "a")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.yaml")
	y := strings.Replace(string(mustRead(t, c.path("b.yaml"))), "\nsops:\n", "\nsops:\n    sealenv: x\n", 1)
	os.WriteFile(c.path("b.yaml"), []byte(y), 0o644)
	c.mustSops(nil, "set", "b.yaml", `["A"]`, `"`+secret(t, "n")+`"`)
	if bytes.Contains(mustRead(t, c.path("b.yaml")), []byte("sealenv: x")) {
		t.Error("sops kept an unknown field of its metadata block")
	}
	env := string(c.mustSops(nil, "exec-env", "b.env", "env"))
	if !strings.Contains(env, "\nsealenv_unencrypted={") {
		t.Error("sops exec-env no longer sets sealenv_unencrypted: update docs/bundles.md")
	}
	c.ok("", "adopt", "b.env")
	if res := c.runInjector("b.env"); res.code != 0 || strings.Contains(res.stdout, "sealenv_unencrypted") {
		t.Errorf("injector: exit %d, metadata in the environment: %v", res.code, strings.Contains(res.stdout, "sealenv_unencrypted"))
	}
}

// TestShowReportsEmptyValues: show --format json reports an empty value as
// empty, not as encrypted; in text it says "empty". check points at the
// line of a JSON key.
func TestShowReportsEmptyValues(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	for _, f := range seal.Formats() {
		bundle := "b." + map[seal.Format]string{seal.FormatDotenv: "env", seal.FormatYAML: "yaml", seal.FormatJSON: "json"}[f]
		c.ok(string(plainFor(f, []string{"TOKEN", "FLAG"}, map[string]string{"TOKEN": secret(t, "t"), "FLAG": ""})), "seal", "-r", r, "-i", "-", "--store", f.String(), "-o", bundle)
		var sj struct {
			Keys []struct {
				Name      string `json:"name"`
				Encrypted bool   `json:"encrypted"`
				Empty     bool   `json:"empty"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(c.ok("", "show", "--format", "json", bundle).stdout), &sj); err != nil {
			t.Fatal(err)
		}
		if len(sj.Keys) != 2 || !sj.Keys[0].Encrypted || sj.Keys[0].Empty || sj.Keys[1].Encrypted || !sj.Keys[1].Empty {
			t.Errorf("%s: show --format json: %+v", f, sj.Keys)
		}
		if text := c.ok("", "show", bundle).stdout; !regexp.MustCompile(`FLAG +set [^\n]*empty\n`).MatchString(text) || strings.Contains(text, "PLAINTEXT") {
			t.Errorf("%s: show:\n%s", f, text)
		}
	}
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.json, recipients: [{key: "+r+"}]}\nkeys: {TOKEN: {min_length: 200}}\n"), 0o644)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	res := c.run("", "check")
	if res.code != 1 || !strings.Contains(res.stdout, "b.json:2: error [prod] min-length") {
		t.Errorf("check on a JSON bundle does not point at the key's line: exit %d\n%s", res.code, res.stdout)
	}
}

// TestBuildServesNoUnauthenticatedName: sealenv build serves secrets like
// the injector passes them: a bundle with a name that nothing authenticates
// stops the build before BuildKit is contacted, naming the fix.
func TestBuildServesNoUnauthenticatedName(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "TMPDIR="+c.path("tmp"))
	os.MkdirAll(c.path("tmp"), 0o700)
	os.MkdirAll(c.path("ctx"), 0o755)
	os.WriteFile(c.path("ctx/Dockerfile"), []byte("FROM scratch\nCOPY app /app\n"), 0o644)
	os.WriteFile(c.path("ctx/app"), []byte("app\n"), 0o644)
	c.ok("NPM_TOKEN="+secret(t, "npm")+"\n", "seal", "-r", r, "-i", "-", "-o", "build.env")
	os.WriteFile(c.path("build.env"), append([]byte("FEATURE_FLAG=\n"), mustRead(t, c.path("build.env"))...), 0o644)
	args := []string{"build", "--bundle", "build.env", "--addr", "unix://" + c.path("none.sock"), "-o", "oci:" + c.path("out"), "ctx"}
	res := c.fails("sealenv adopt build.env", "", args...)
	if strings.Contains(res.stderr, "BuildKit") || !strings.Contains(res.stderr, "FEATURE_FLAG") {
		t.Errorf("stderr %q", res.stderr)
	}
	c.ok("", "adopt", "build.env")
	c.fails("building with BuildKit at ", "", args...)
}

// TestFleetWritesWaitForReview: rekey --all and rotate --due change no
// bundle while one waits for a review, and say how to end the wait.
func TestFleetWritesWaitForReview(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+r+"}]}\n  - {name: dev, bundle: dev.env, recipients: [{key: "+r+"}]}\ndefaults: {max_age: 1h}\n"), 0o644)
	c.ok("A="+secret(t, "a")+"\n", "seal", "--env", "prod", "-i", "-")
	c.ok("A="+secret(t, "a")+"\n", "seal", "--env", "dev", "-i", "-")
	os.WriteFile(c.path("prod.env"), append(mustRead(t, c.path("prod.env")), "X=\n"...), 0o644)
	before, dev := digest(t, c.path("prod.env")), digest(t, c.path("dev.env"))
	for _, args := range [][]string{{"rekey", "--all"}, {"rotate", "--due", "--yes"}} {
		c.fails("sealenv adopt", "", args...)
		if digest(t, c.path("prod.env")) != before || digest(t, c.path("dev.env")) != dev {
			t.Fatalf("%v changed a bundle", args)
		}
	}
	c.ok("", "adopt", "prod.env")
	c.ok("", "rekey", "--all")
}
