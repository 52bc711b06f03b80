package e2e

// Shared setup of the scenario tests (issue 7): the sealenv CLI run as a
// subprocess, one age identity and one sealed bundle per test binary run,
// the audit's JSON report, and the image built from Dockerfile.example.
// Values and keys are made at run time; no test output ever holds a value
// (reports and logs are checked for them, and compared by hash).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Fixture is what every scenario shares: the tools, the keys and a sealed
// bundle holding Values.
type Fixture struct {
	e         *Env
	Sealenv   string // host build of cmd/sealenv
	Dir       string // a folder of the run (not of one test)
	Home      string // HOME and XDG_CONFIG_HOME of every sealenv call: no keys.txt of the host
	Key       string // path of the identity that opens Bundle
	KeyText   []byte
	Wrong     []byte // an identity that opens nothing
	Recipient string
	Bundle    string            // path of the sealed dotenv bundle
	Values    map[string]string // what Bundle holds
	Names     []string          // its keys, in order
}

var (
	fixMu  sync.Mutex
	theFix *Fixture
	fixErr string
)

// fixture makes the shared fixture on first use. A failed setup fails
// every test that asks for it, with the first failure's reason.
func fixture(t testing.TB, e *Env) *Fixture {
	t.Helper()
	fixMu.Lock()
	defer fixMu.Unlock()
	if theFix != nil {
		return theFix
	}
	if fixErr != "" {
		t.Fatalf("shared fixture: %s", fixErr)
	}
	fixErr = "set up failed in an earlier test (see its log)"
	f := &Fixture{e: e, Sealenv: e.GoBuildHost(t, "../cmd/sealenv")}
	dir, err := os.MkdirTemp(e.Dir, "fixture-")
	if err != nil {
		t.Fatal(err)
	}
	f.Dir = dir
	f.Home = filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(f.Home, ".config"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.Key = filepath.Join(dir, "prod.key")
	res := f.Run(t, dir, nil, nil, "keygen", "-o", f.Key)
	if res.Code != 0 {
		t.Fatalf("sealenv keygen: exit %d: %s", res.Code, res.Stderr)
	}
	f.Recipient = strings.TrimSpace(res.Stdout)
	if !strings.HasPrefix(f.Recipient, "age1") {
		t.Fatalf("sealenv keygen printed %q, not a recipient", f.Recipient)
	}
	if f.KeyText, err = os.ReadFile(f.Key); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.key")
	if res := f.Run(t, dir, nil, nil, "keygen", "-o", wrong); res.Code != 0 {
		t.Fatalf("sealenv keygen: exit %d: %s", res.Code, res.Stderr)
	}
	if f.Wrong, err = os.ReadFile(wrong); err != nil {
		t.Fatal(err)
	}

	// Both names are among those Dockerfile.example's CMD asks the app for.
	f.Names = []string{"DATABASE_URL", "API_TOKEN"}
	f.Values = map[string]string{
		"DATABASE_URL": randomValue(t, 16),
		"API_TOKEN":    randomValue(t, 20),
	}
	// Sealed from stdin: the plaintext never touches the disk. Then one
	// more value with sealenv set, as a developer adds one.
	f.Bundle = filepath.Join(dir, "prod.env")
	plain := "DATABASE_URL=" + f.Values["DATABASE_URL"] + "\n"
	if res := f.Run(t, dir, []byte(plain), nil, "seal", "-r", f.Recipient, "-i", "-", "-o", f.Bundle); res.Code != 0 {
		t.Fatalf("sealenv seal: exit %d: %s", res.Code, res.Stderr)
	}
	if res := f.Run(t, dir, []byte(f.Values["API_TOKEN"]+"\n"), nil, "set", "--identity", f.Key, f.Bundle, "API_TOKEN"); res.Code != 0 {
		t.Fatalf("sealenv set: exit %d: %s", res.Code, res.Stderr)
	}
	b, err := os.ReadFile(f.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	f.NoValues(t, "the sealed bundle", string(b))
	for _, n := range f.Names {
		if !bytes.Contains(b, []byte(n+"=ENC[")) {
			t.Fatalf("the sealed bundle has no encrypted %s", n)
		}
	}
	theFix, fixErr = f, ""
	return f
}

// CLIResult is what one sealenv run did.
type CLIResult struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the sealenv CLI in dir with stdin, an environment without any
// identity variable of the host, HOME in the fixture, and extra NAME=value
// variables. Its output is checked for secret values.
func (f *Fixture) Run(t testing.TB, dir string, stdin []byte, extra []string, args ...string) CLIResult {
	t.Helper()
	cmd := exec.Command(f.Sealenv, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(f.Home), extra...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("sealenv %s: %v", args[0], err)
		}
		code = ee.ExitCode()
	}
	res := CLIResult{Stdout: o.String(), Stderr: s.String(), Code: code}
	if f.Values != nil {
		f.NoValues(t, "sealenv "+args[0]+" stdout", res.Stdout)
		f.NoValues(t, "sealenv "+args[0]+" stderr", res.Stderr)
	}
	return res
}

// cleanEnv is the host's environment without the variables through which
// sealenv would find an identity, a bundle or a policy of the host.
func cleanEnv(home string) []string {
	env := withoutEnv(os.Environ(), "SEALENV_AGE_KEY", "SEALENV_AGE_KEY_FILE", "SOPS_AGE_KEY",
		"SOPS_AGE_KEY_FILE", "SEALENV_BUNDLE", "HOME", "XDG_CONFIG_HOME", "SOPS_AGE_SSH_PRIVATE_KEY_FILE")
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
}

// NoValues fails t if s holds any value of the bundle; it names the key,
// never the value.
func (f *Fixture) NoValues(t testing.TB, what, s string) {
	t.Helper()
	for _, n := range f.Names {
		if strings.Contains(s, f.Values[n]) {
			t.Errorf("%s holds the value of %s", what, n)
		}
	}
}

// Report line the app prints for a value: "NAME: set, N bytes, sha256:XXXXXXXX".
func appLine(name, value string) string {
	sum := sha256.Sum256([]byte(value))
	return fmt.Sprintf("%s: set, %d bytes, sha256:%s", name, len(value), hex.EncodeToString(sum[:4]))
}

// SeesAll checks that the app's stdout reports every value of the bundle
// with the right length and hash.
func (f *Fixture) SeesAll(t testing.TB, stdout string) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	for _, n := range f.Names {
		if !contains(lines, appLine(n, f.Values[n])) {
			t.Errorf("the app did not get %s with its sealed value; it printed:\n%s", n, stdout)
		}
	}
}

// ---- the audit's JSON report ---------------------------------------------

// AuditReport is the part of `sealenv audit image --format json` the tests read.
type AuditReport struct {
	Source   string         `json:"source"`
	Findings []AuditFinding `json:"findings"`
	Coverage struct {
		Images       int      `json:"images"`
		Layers       int      `json:"layers"`
		Files        int64    `json:"files"`
		Complete     bool     `json:"complete"`
		Errors       []string `json:"errors"`
		Attestations int      `json:"attestations"`
		KnownValues  int      `json:"known_values"`
		ShortValues  []string `json:"short_values"`
	} `json:"coverage"`
	Provenance []struct {
		Mode      string   `json:"mode"`
		BuildArgs []string `json:"build_args"`
		Secrets   []string `json:"secrets"`
	} `json:"provenance"`
}

// AuditFinding is one finding; it never holds a value, so it may be printed.
type AuditFinding struct {
	Kind                 string `json:"kind"`
	Rule                 string `json:"rule"`
	Secret               string `json:"secret"`
	Name                 string `json:"name"`
	Where                string `json:"where"`
	Image                string `json:"image"`
	LayerIndex           *int   `json:"layer_index"`
	LayerDigest          string `json:"layer_digest"`
	Path                 string `json:"path"`
	Offset               *int64 `json:"offset"`
	DeletedInLayer       *int   `json:"deleted_in_layer"`
	DeletedInLayerDigest string `json:"deleted_in_layer_digest"`
	Field                string `json:"field"`
	Encoding             string `json:"encoding"`
	Preview              string `json:"preview"`
}

func (a AuditFinding) String() string {
	s := fmt.Sprintf("%s/%s where=%s", a.Kind, a.Rule, a.Where)
	if a.Secret != "" {
		s += " secret=" + a.Secret
	}
	if a.Name != "" {
		s += " name=" + a.Name
	}
	if a.LayerIndex != nil {
		s += fmt.Sprintf(" layer=%d", *a.LayerIndex)
	}
	if a.Path != "" {
		s += " path=" + a.Path
	}
	if a.Offset != nil {
		s += fmt.Sprintf(" offset=%d", *a.Offset)
	}
	if a.DeletedInLayer != nil {
		s += fmt.Sprintf(" deleted_in_layer=%d", *a.DeletedInLayer)
	}
	if a.Field != "" {
		s += " field=" + a.Field
	}
	if a.Encoding != "" {
		s += " encoding=" + a.Encoding
	}
	return s
}

func (r AuditReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d findings:", len(r.Findings))
	for _, f := range r.Findings {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// Audit runs `sealenv audit image --format json` on ref with the fixture's
// bundle and identity (every sealed value searched), and returns the report
// and the exit status. An error (exit 2) or an incomplete coverage fails t.
func (f *Fixture) Audit(t testing.TB, ref string, extra ...string) (AuditReport, int) {
	t.Helper()
	args := append([]string{"audit", "image", "--format", "json", "--bundle", f.Bundle, "--identity", f.Key}, extra...)
	args = append(args, ref)
	res := f.Run(t, f.Dir, nil, nil, args...)
	var r AuditReport
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil || res.Code == 2 {
		t.Fatalf("sealenv audit image %s: exit %d, %v; stderr: %s", ref, res.Code, err, oneLine([]byte(res.Stderr)))
	}
	if !r.Coverage.Complete || len(r.Coverage.Errors) > 0 {
		t.Fatalf("audit of %s is incomplete: %q", ref, r.Coverage.Errors)
	}
	if r.Coverage.KnownValues != len(f.Names) || len(r.Coverage.ShortValues) > 0 {
		t.Fatalf("the audit searched %d known values (short: %q), want the bundle's %d", r.Coverage.KnownValues, r.Coverage.ShortValues, len(f.Names))
	}
	if (res.Code == 0) != (len(r.Findings) == 0) {
		t.Errorf("audit exit %d with %s", res.Code, r)
	}
	return r, res.Code
}

// ExpectClean fails t unless the audit of ref exits 0 with no finding.
func (f *Fixture) ExpectClean(t testing.TB, ref string, extra ...string) AuditReport {
	t.Helper()
	r, code := f.Audit(t, ref, extra...)
	if code != 0 || len(r.Findings) > 0 {
		t.Errorf("audit of %s: exit %d, want 0 (clean); %s", ref, code, r)
	}
	return r
}

// ExpectLeak fails t unless the audit of ref exits 1; it returns the report.
func (f *Fixture) ExpectLeak(t testing.TB, ref string, extra ...string) AuditReport {
	t.Helper()
	r, code := f.Audit(t, ref, extra...)
	if code != 1 {
		t.Errorf("audit of %s: exit %d, want 1 (findings); %s", ref, code, r)
	}
	t.Logf("audit: %s", r)
	return r
}

// Want is a finding a test expects: every set field must match, and a
// Field or Path that starts with "~" is a regular expression.
type Want struct {
	Kind, Rule, Secret, Name, Where, Path, Field, Encoding string
	Layer, DeletedIn                                       *int
	Offset                                                 *int64
	LayerDigest, DeletedInDigest                           string
}

func (w Want) String() string {
	s := fmt.Sprintf("%s/%s where=%s secret=%s name=%s path=%s field=%s encoding=%s", w.Kind, w.Rule, w.Where, w.Secret, w.Name, w.Path, w.Field, w.Encoding)
	if w.Layer != nil {
		s += fmt.Sprintf(" layer=%d", *w.Layer)
	}
	if w.DeletedIn != nil {
		s += fmt.Sprintf(" deleted_in_layer=%d", *w.DeletedIn)
	}
	if w.Offset != nil {
		s += fmt.Sprintf(" offset=%d", *w.Offset)
	}
	return s
}

func matchText(want, got string) bool {
	if want == "" {
		return true
	}
	if re, ok := strings.CutPrefix(want, "~"); ok {
		return regexp.MustCompile(re).MatchString(got)
	}
	return want == got
}

func (w Want) matches(f AuditFinding) bool {
	eqInt := func(a, b *int) bool { return a == nil || (b != nil && *a == *b) }
	return matchText(w.Kind, f.Kind) && matchText(w.Rule, f.Rule) && matchText(w.Secret, f.Secret) &&
		matchText(w.Name, f.Name) && matchText(w.Where, f.Where) && matchText(w.Path, f.Path) &&
		matchText(w.Field, f.Field) && matchText(w.Encoding, f.Encoding) &&
		matchText(w.LayerDigest, f.LayerDigest) && matchText(w.DeletedInDigest, f.DeletedInLayerDigest) &&
		eqInt(w.Layer, f.LayerIndex) && eqInt(w.DeletedIn, f.DeletedInLayer) &&
		(w.Offset == nil || (f.Offset != nil && *w.Offset == *f.Offset))
}

// Has fails t unless the report holds a finding for each want.
func (r AuditReport) Has(t testing.TB, wants ...Want) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, f := range r.Findings {
			if w.matches(f) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no finding %s\nin %s", w, r)
		}
	}
}

func intp(i int) *int       { return &i }
func int64p(i int64) *int64 { return &i }

// ---- the image of Dockerfile.example ------------------------------------------

// exampleImage is Dockerfile.example built unchanged, with the repository's
// example app, the injector from the injector image (Dockerfile.inject) and
// the fixture's bundle; loaded into podman once per run.
type exampleImage struct {
	Image
	Loaded string // podman's name for it
}

var (
	exampleMu  sync.Mutex
	theExample *exampleImage
	goRootfsMu sync.Mutex
	goRootfs   string // the golang:1.26 stand-in, made once
)

// exampleBuild returns the Build of Dockerfile.example (so that a test can
// push the same build to a registry).
func exampleBuild(t *testing.T, e *Env, f *Fixture) Build {
	t.Helper()
	dockerfile, err := os.ReadFile("../Dockerfile.example")
	if err != nil {
		t.Fatal(err)
	}
	goRootfsMu.Lock()
	if goRootfs == "" {
		goRootfs = e.MakeRootfs(t, Rootfs{Go: true})
	}
	golang := goRootfs
	goRootfsMu.Unlock()
	b := Build{
		Dockerfile: string(dockerfile),
		Copy: map[string]string{
			"examples/app/main.go": "../examples/app/main.go",
			"secrets/prod.env":     f.Bundle,
		},
		Contexts: map[string]string{"golang:1.26": golang},
	}
	// The injector comes from the injector image Dockerfile.inject builds,
	// under the name Dockerfile.example copies it from.
	injectorContext(t, e, &b, injectorRef(t, dockerfile))
	return b
}

// example builds (once) and loads Dockerfile.example's image.
func example(t *testing.T, e *Env, f *Fixture) *exampleImage {
	t.Helper()
	exampleMu.Lock()
	defer exampleMu.Unlock()
	if theExample != nil {
		return theExample
	}
	img := e.Build(t, exampleBuild(t, e, f))
	theExample = &exampleImage{Image: img, Loaded: e.Load(t, img)}
	return theExample
}
