package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// peer returns the path of a real tool a test builds its input with. It
// skips the test when the tool is missing, unless SEALENV_REQUIRE_PEERS
// is set (CI, where scripts/setup-peers.sh installs them): then it fails.
func peer(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
		t.Fatalf("%s is not installed (scripts/setup-peers.sh installs it)", name)
	}
	t.Skipf("%s is not installed (scripts/setup-peers.sh installs it)", name)
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// runTool runs a real tool in dir with input on its standard input and
// returns its standard output; it fails the test with the tool's
// standard error (which holds no secret: secrets go in files and stdin).
func runTool(t testing.TB, dir string, stdin []byte, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(peer(t, name), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// secretPair is a pair of secrets to plant (a credential that a rule finds
// and a sealed value), made at test time, and the options that search
// for the sealed one.
type secretPair struct {
	tok, val string
	opts     Options
}

func plantSecrets(t testing.TB) secretPair {
	p := secretPair{tok: "ghp_" + randString(t, alnum, 36), val: randString(t, alnum, 24)}
	p.opts = Options{Values: []Value{{Name: "DB_PASSWORD", Value: []byte(p.val)}}}
	return p
}

// env is a dotenv-style body that holds both secrets.
func (p secretPair) env() []byte {
	return []byte("# settings\nGITHUB_TOKEN=" + p.tok + "\nDB_PASSWORD=" + p.val + "\n")
}

// clean is a body of the same shape without a secret.
func cleanBody() []byte {
	return []byte("# settings\nGITHUB_TOKEN=\nDB_PASSWORD=\nLOG_LEVEL=debug\n")
}

// wantBoth asserts a complete report that finds both secrets, each at a
// path that starts with prefix, and never prints them.
func (p secretPair) wantBoth(t *testing.T, r *Report, prefix string) {
	t.Helper()
	js, _ := json.Marshal(r)
	if bytes.Contains(js, []byte(p.tok)) || bytes.Contains(js, []byte(p.val)) {
		t.Fatal("the report holds a secret")
	}
	if !r.Coverage.Complete {
		t.Fatalf("incomplete: %q", r.Coverage.Errors)
	}
	for _, rule := range []string{"github-token", "sealed-value"} {
		ok := false
		for _, f := range r.Findings {
			if f.Rule == rule && strings.HasPrefix(f.Path, prefix) {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("no %s finding under %q: %s", rule, prefix, dump(t, r))
		}
	}
}

// wantClean asserts a complete report without findings.
func wantClean(t *testing.T, r *Report) {
	t.Helper()
	if !r.Clean() {
		t.Fatalf("not clean: complete=%v errors=%q findings=%s", r.Coverage.Complete, r.Coverage.Errors, dump(t, r))
	}
}

// wantIncomplete asserts an incomplete report whose reasons say want.
func wantIncomplete(t *testing.T, r *Report, want string) {
	t.Helper()
	if r.Coverage.Complete || r.Clean() {
		t.Fatalf("complete, want incomplete with %q: %s", want, dump(t, r))
	}
	if !strings.Contains(strings.Join(r.Coverage.Errors, "\n"), want) {
		t.Fatalf("incomplete without %q: %q", want, r.Coverage.Errors)
	}
}

// auditFiles audits an image of one uncompressed layer holding files.
func auditFiles(t *testing.T, opts Options, files ...file) *Report {
	t.Helper()
	r, err := auditLayer(t, tarBytes(t, files...), "none", opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
