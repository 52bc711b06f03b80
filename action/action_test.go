// Package action holds the shell steps of the sealenv GitHub Action
// (action.yml at the repository root) and of the GitLab CI template
// (ci/gitlab/sealenv-audit.yml). Its test runs them as the runners would,
// with a local release standing in for the download.
package action

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// version is what the stand-in release calls itself.
const version = "v0.0.0-actiontest"

// release is a folder laid out like GitHub's release downloads:
// DIR/VERSION/sealenv_..._linux_ARCH.tar.gz and DIR/VERSION/checksums.txt.
type release struct {
	dir       string
	archive   string // path of the archive for this machine
	sealenv   string // the binary in it
	imagetool string // examples/imagetool, to make test images
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	releaseOnce sync.Once
	theRelease  *release
	releaseErr  string
	releaseDir  string
)

// TestMain removes the shared release folder.
func TestMain(m *testing.M) {
	code := m.Run()
	if releaseDir != "" {
		os.RemoveAll(releaseDir)
	}
	os.Exit(code)
}

// makeRelease builds sealenv as a release does (stripped, version stamped)
// and packs it with checksums.txt, once per test binary run; imagetool is
// built beside it.
func makeRelease(t *testing.T) *release {
	t.Helper()
	releaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sealenv-action-test-*")
		if err != nil {
			releaseErr = err.Error()
			return
		}
		releaseDir = dir
		theRelease, releaseErr = buildRelease(dir, testing.Short())
	})
	if releaseErr != "" {
		t.Fatal(releaseErr)
	}
	return theRelease
}

// buildRelease builds sealenv and imagetool at once (each link keeps a core
// busy) and lays out the release. The binary is linked with the release's
// -s -w (.goreleaser.yaml), which makes it a third smaller to pack, unpack
// and checksum at every install; not with its -trimpath, which would
// compile every package again instead of sharing go test's build cache.
//
// With short, the archive's sealenv is a two-line script that runs the
// binary built here: every step of the action still runs, and the audit is
// still the real one, but an install unpacks a few hundred bytes instead of
// the whole CLI (about 1 s each, and a test run installs it 19 times).
func buildRelease(dir string, short bool) (*release, string) {
	bin := filepath.Join(dir, "build", "sealenv")
	tool := filepath.Join(dir, "build", "imagetool")
	builds := [][]string{
		{"build", "-ldflags=-s -w -X github.com/sealenv/sealenv/internal/version.version=" + version, "-o", bin, "github.com/sealenv/sealenv/cmd/sealenv"},
		{"build", "-o", tool, "github.com/sealenv/sealenv/examples/imagetool"},
	}
	failed := make([]string, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		wg.Go(func() {
			if out, err := exec.Command("go", b...).CombinedOutput(); err != nil {
				failed[i] = fmt.Sprintf("go %s: %v: %s", strings.Join(b, " "), err, out)
			}
		})
	}
	wg.Wait()
	if msg := strings.Join(slices.DeleteFunc(failed, func(s string) bool { return s == "" }), "; "); msg != "" {
		return nil, msg
	}
	packed := bin
	if short {
		packed = filepath.Join(dir, "build", "sealenv-exec")
		script := "#!/bin/sh\nexec '" + bin + "' \"$@\"\n"
		if err := os.WriteFile(packed, []byte(script), 0o755); err != nil {
			return nil, err.Error()
		}
	}
	name := fmt.Sprintf("sealenv_%s_%s_%s.tar.gz", strings.TrimPrefix(version, "v"), runtime.GOOS, runtime.GOARCH)
	rel := filepath.Join(dir, "releases", version)
	if err := os.MkdirAll(rel, 0o755); err != nil {
		return nil, err.Error()
	}
	archive := filepath.Join(rel, name)
	readme, _ := filepath.Abs("../README.md")
	if err := writeTarGz(archive, map[string]string{"sealenv": packed, "README.md": readme}); err != nil {
		return nil, err.Error()
	}
	if err := writeChecksums(rel); err != nil {
		return nil, err.Error()
	}
	return &release{dir: filepath.Join(dir, "releases"), archive: archive, sealenv: bin, imagetool: tool}, ""
}

// needTools skips where the runners' tools are missing.
func needTools(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the action's steps run on linux and macOS runners")
	}
	for _, tool := range []string{"bash", "curl", "jq", "tar", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the runners have it", tool)
		}
	}
}

func writeTarGz(path string, files map[string]string) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a stand-in: packing speed over size
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if n == "sealenv" {
			mode = 0o755
		}
		tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeChecksums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var lines []string
	for _, e := range entries {
		if e.Name() == "checksums.txt" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(s[:])+"  "+e.Name())
	}
	return os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ---- a composite action runner, for the subset action.yml uses -------------

type actionFile struct {
	Inputs map[string]struct {
		Default  string `yaml:"default"`
		Required bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			If    string            `yaml:"if"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Uses  string            `yaml:"uses"`
			Env   map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

// job is one runner job: a workspace, RUNNER_TEMP, and the files a runner
// gives each step (GITHUB_PATH, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT).
type job struct {
	t         *testing.T
	workspace string
	temp      string
	summary   string
	pathFile  string
	env       []string // the job's environment (the step's `env:` of the uses step)
}

func newJob(t *testing.T) *job {
	t.Helper()
	j := &job{t: t, workspace: t.TempDir(), temp: t.TempDir()}
	j.summary = filepath.Join(j.temp, "_step_summary")
	j.pathFile = filepath.Join(j.temp, "_path")
	for _, f := range []string{j.summary, j.pathFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// result of one use of the action.
type result struct {
	code    int               // 0 success, else the failing step's exit status
	outputs map[string]string // the action's outputs
	log     string            // every step's stdout and stderr
	steps   []string          // the ids of the steps that ran
}

var expr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// use runs action.yml's steps as a composite action in j with the inputs.
func (j *job) use(inputs map[string]string) result {
	t := j.t
	t.Helper()
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("action.yml: runs.using %q, want composite", a.Runs.Using)
	}
	in := map[string]string{}
	for name, i := range a.Inputs {
		in[name] = i.Default
	}
	for name, v := range inputs {
		if _, ok := a.Inputs[name]; !ok {
			t.Fatalf("action.yml has no input %q", name)
		}
		in[name] = v
	}
	for name, i := range a.Inputs {
		if i.Required && in[name] == "" {
			t.Fatalf("input %q is required", name)
		}
	}
	stepOut := map[string]map[string]string{}
	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			e := expr.FindStringSubmatch(m)[1]
			if name, ok := strings.CutPrefix(e, "inputs."); ok {
				return in[name]
			}
			if parts := strings.Split(e, "."); len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs" {
				return stepOut[parts[1]][parts[3]]
			}
			t.Fatalf("action.yml: expression %q is not one the test runner knows", e)
			return ""
		})
	}
	cond := regexp.MustCompile(`^inputs\.([a-z0-9-]+) == '([^']*)'$`)
	var res result
	for i, s := range a.Runs.Steps {
		if s.Uses != "" || s.Shell != "bash" {
			t.Fatalf("action.yml step %d: only `shell: bash` run steps are tested (uses %q, shell %q)", i, s.Uses, s.Shell)
		}
		if s.If != "" {
			m := cond.FindStringSubmatch(s.If)
			if m == nil {
				t.Fatalf("action.yml step %s: if %q is not one the test runner knows", s.ID, s.If)
			}
			if in[m[1]] != m[2] {
				continue
			}
		}
		if strings.Contains(s.Run, "${{") {
			t.Fatalf("action.yml step %s: an expression in run: (inputs go through env:, never into the script)", s.ID)
		}
		res.steps = append(res.steps, s.ID)
		script := filepath.Join(j.temp, fmt.Sprintf("_step%d.sh", i))
		if err := os.WriteFile(script, []byte(s.Run), 0o644); err != nil {
			t.Fatal(err)
		}
		outFile := filepath.Join(j.temp, fmt.Sprintf("_output%d", i))
		if err := os.WriteFile(outFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = j.workspace
		cmd.Env = append(j.baseEnv(root, outFile), j.env...)
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+eval(v))
		}
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		err := cmd.Run()
		res.log += log.String()
		stepOut[s.ID] = readOutputs(t, outFile)
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			res.code = ee.ExitCode()
			break
		}
	}
	res.outputs = map[string]string{}
	for name, o := range a.Outputs {
		res.outputs[name] = eval(o.Value)
	}
	return res
}

// baseEnv is what a hosted runner gives a step, with GITHUB_PATH applied.
func (j *job) baseEnv(root, outFile string) []string {
	path := "/usr/local/bin:/usr/bin:/bin"
	if b, err := os.ReadFile(j.pathFile); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				path = l + ":" + path
			}
		}
	}
	return []string{
		"PATH=" + path, "HOME=" + j.temp, "CI=true", "GITHUB_ACTIONS=true",
		"GITHUB_ACTION_PATH=" + root, "GITHUB_WORKSPACE=" + j.workspace, "RUNNER_TEMP=" + j.temp,
		"GITHUB_OUTPUT=" + outFile, "GITHUB_PATH=" + j.pathFile, "GITHUB_STEP_SUMMARY=" + j.summary,
	}
}

func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

func (j *job) summaryText() string {
	b, err := os.ReadFile(j.summary)
	if err != nil {
		j.t.Fatal(err)
	}
	return string(b)
}

// ---- images and a bundle ------------------------------------------------------

// value is a secret generated at test time.
func value(t *testing.T) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "tok-" + hex.EncodeToString(b)
}

// images makes a clean image and one with the value baked into its config.
func images(t *testing.T, rel *release, dir, secret string) (clean, leaky string) {
	t.Helper()
	app := "/bin/true" // any small ELF executable
	clean, leaky = filepath.Join(dir, "clean.tar"), filepath.Join(dir, "leaky.tar")
	for _, c := range []*exec.Cmd{
		exec.Command(rel.imagetool, "build", app, clean, "/app"),
		exec.Command(rel.imagetool, "build", "--env-stdin", "API_TOKEN", app, leaky, "/app"),
	} {
		c.Stdin = strings.NewReader(secret)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("imagetool: %v: %s", err, out)
		}
	}
	return "docker-archive:" + clean, "docker-archive:" + leaky
}

// sealed makes an identity and a bundle holding API_TOKEN=secret with the
// release's sealenv; it returns the bundle and the identity file.
func sealed(t *testing.T, rel *release, dir, secret string) (bundle, key string) {
	t.Helper()
	key, bundle = filepath.Join(dir, "key.txt"), filepath.Join(dir, "prod.env")
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "SEALENV_AGE_KEY_FILE=" + key}
	run := func(stdin string, args ...string) string {
		cmd := exec.Command(rel.sealenv, args...)
		cmd.Env, cmd.Dir, cmd.Stdin = env, dir, strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sealenv %s: %v", args[0], err)
		}
		return string(out)
	}
	recipient := strings.TrimSpace(run("", "keygen", "-o", key))
	run("", "seal", "-r", recipient, "-o", bundle)
	run(secret, "set", bundle, "API_TOKEN")
	return bundle, key
}

// ---- the tests ----------------------------------------------------------------

// TestActionAudit runs action.yml's steps with a local release: install by
// checksum, audit a clean and a leaky image, SARIF, the job summary (a table
// with masked previews and the coverage line) and the outputs; the job
// fails on findings unless told not to, and no value is ever printed.
func TestActionAudit(t *testing.T) {
	t.Parallel()
	needTools(t)
	rel := makeRelease(t)
	dir := t.TempDir()
	secret := value(t)
	clean, leaky := images(t, rel, dir, secret)
	bundle, key := sealed(t, rel, dir, secret)
	base := map[string]string{"version": version, "release-url": "file://" + rel.dir}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	noValue := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.Contains(s, secret) {
			t.Errorf("%s holds the secret value", what)
		}
	}

	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		j := newJob(t)
		j.t = t
		res := j.use(with("image", clean))
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.log)
		}
		if got := strings.Join(res.steps, ","); got != "install,audit" {
			t.Errorf("steps %s, want install,audit", got)
		}
		if res.outputs["findings"] != "0" || res.outputs["complete"] != "true" {
			t.Errorf("outputs %v", res.outputs)
		}
		sum := j.summaryText()
		for _, want := range []string{"### sealenv audit: clean", "**Coverage:** 1 image(s), 1 layer(s)", "complete.", "No findings.", "sealenv " + version} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}
		// The installed binary is on the PATH of later steps.
		path, _ := os.ReadFile(j.pathFile)
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(path)), "sealenv")); err != nil {
			t.Errorf("GITHUB_PATH %q: no sealenv there", path)
		}
		var sarif struct {
			Runs []struct {
				Tool struct {
					Driver struct{ Name, Version string }
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(j.workspace, res.outputs["sarif-file"]))
		if err != nil || json.Unmarshal(b, &sarif) != nil || len(sarif.Runs) != 1 || sarif.Runs[0].Tool.Driver.Version != version {
			t.Errorf("SARIF %s: %v %+v", res.outputs["sarif-file"], err, sarif)
		}
	})

	t.Run("findings", func(t *testing.T) {
		t.Parallel()
		j := newJob(t)
		j.t = t
		j.env = []string{"SEALENV_AGE_KEY_FILE=" + key}
		res := j.use(with("image", leaky, "bundles", bundle+"\n"))
		if res.code != 1 {
			t.Fatalf("exit %d, want 1: %s", res.code, res.log)
		}
		n, _ := strconv.Atoi(res.outputs["findings"])
		if n < 2 || res.outputs["complete"] != "true" {
			t.Errorf("outputs %v: want the rule and the known value", res.outputs)
		}
		sum := j.summaryText()
		for _, want := range []string{"finding(s)", "| # | severity | kind | rule | secret or name | where | encoding | preview |",
			"| known-value |", "| API_TOKEN |", "config <code>config.Env[", "<code>tok-****"} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}
		if rows := strings.Count(sum, "\n| "); rows != n+2 {
			t.Errorf("summary has %d table lines, want a header, its rule and %d findings", rows, n)
		}
		if !strings.Contains(res.log, "::error title=sealenv audit::") {
			t.Errorf("no error annotation in the log: %s", res.log)
		}
		noValue(t, "the summary", sum)
		noValue(t, "the log", res.log)
		for _, f := range []string{res.outputs["report"], filepath.Join(j.workspace, res.outputs["sarif-file"])} {
			b, _ := os.ReadFile(f)
			noValue(t, f, string(b))
		}

		// Told not to fail, the job passes and still reports.
		j2 := newJob(t)
		j2.env = j.env
		res = j2.use(with("image", leaky, "bundles", bundle, "fail-on-findings", "false", "sarif-file", ""))
		if res.code != 0 || res.outputs["findings"] != strconv.Itoa(n) || res.outputs["sarif-file"] != "" {
			t.Errorf("fail-on-findings false: exit %d, outputs %v", res.code, res.outputs)
		}
		if _, err := os.Stat(filepath.Join(j2.workspace, "sealenv.sarif")); err == nil {
			t.Error("sarif-file '' wrote sealenv.sarif")
		}
	})

	t.Run("checksum", func(t *testing.T) {
		t.Parallel()
		// A pinned checksum that is right installs; a wrong one stops the job
		// before anything runs or lands on the PATH.
		j := newJob(t)
		if res := j.use(with("image", clean, "sha256", fileSHA256(t, rel.archive))); res.code != 0 {
			t.Errorf("the right pinned sha256: exit %d: %s", res.code, res.log)
		}
		j = newJob(t)
		res := j.use(with("image", clean, "sha256", strings.Repeat("0", 64)))
		if res.code != 2 || len(res.steps) != 1 || !strings.Contains(res.log, "::error title=sealenv install::") || !strings.Contains(res.log, "sha256") {
			t.Errorf("a wrong pinned sha256: exit %d, steps %v: %s", res.code, res.steps, res.log)
		}
		if b, _ := os.ReadFile(j.pathFile); len(b) != 0 {
			t.Errorf("GITHUB_PATH written after a failed install: %q", b)
		}
		// An archive that does not match the release's checksums.txt.
		tampered := t.TempDir()
		vdir := filepath.Join(tampered, version)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		sums, _ := os.ReadFile(filepath.Join(filepath.Dir(rel.archive), "checksums.txt"))
		os.WriteFile(filepath.Join(vdir, "checksums.txt"), sums, 0o644)
		data, _ := os.ReadFile(rel.archive)
		os.WriteFile(filepath.Join(vdir, filepath.Base(rel.archive)), append(data, 0), 0o644)
		j = newJob(t)
		res = j.use(map[string]string{"image": clean, "version": version, "release-url": "file://" + tampered})
		if res.code != 2 || len(res.steps) != 1 {
			t.Errorf("a tampered archive: exit %d, steps %v: %s", res.code, res.steps, res.log)
		}
		// A version the release does not have.
		j = newJob(t)
		res = j.use(with("image", clean, "version", "v9.9.9"))
		if res.code != 2 || !strings.Contains(res.log, "downloading") {
			t.Errorf("a missing release: exit %d: %s", res.code, res.log)
		}
	})

	t.Run("check and scan", func(t *testing.T) {
		t.Parallel()
		j := newJob(t)
		git := func(args ...string) {
			cmd := exec.Command("git", args...)
			cmd.Dir = j.workspace
			cmd.Env = []string{"HOME=" + j.temp, "PATH=/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM=1"}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v: %s", args, err, out)
			}
		}
		git("init", "-q")
		os.WriteFile(filepath.Join(j.workspace, "main.go"), []byte("package main\n"), 0o644)
		res := j.use(with("image", clean, "scan", "true"))
		if res.code != 0 || strings.Join(res.steps, ",") != "install,scan,audit" {
			t.Errorf("scan of a clean tree: exit %d, steps %v: %s", res.code, res.steps, res.log)
		}
		// A plaintext secrets file fails the scan, before the audit.
		os.WriteFile(filepath.Join(j.workspace, ".env"), []byte("API_TOKEN="+secret+"\n"), 0o600)
		res = j.use(with("image", clean, "scan", "true"))
		if res.code != 1 || strings.Join(res.steps, ",") != "install,scan" {
			t.Errorf("scan of a plaintext .env: exit %d, steps %v: %s", res.code, res.steps, res.log)
		}
		noValue(t, "the scan log", res.log)
		os.Remove(filepath.Join(j.workspace, ".env"))
		// check runs sealenv check: without a sealenv.yaml it cannot.
		res = j.use(with("image", clean, "check", "true"))
		if res.code != 2 || strings.Join(res.steps, ",") != "install,check" {
			t.Errorf("check without a policy: exit %d, steps %v: %s", res.code, res.steps, res.log)
		}
	})
}

// TestGitLabTemplate runs the script of ci/gitlab/sealenv-audit.yml with its
// inputs filled in as GitLab does, against the same local release.
func TestGitLabTemplate(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the template installs the linux release")
	}
	needTools(t)
	rel := makeRelease(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "ci", "gitlab", "sealenv-audit.yml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.SplitN(string(data), "\n---\n", 2)
	if len(docs) != 2 {
		t.Fatal("the template is not a spec header and a job document")
	}
	var spec struct {
		Spec struct {
			Inputs map[string]struct {
				Default any `yaml:"default"`
			} `yaml:"inputs"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(docs[0]), &spec); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := value(t)
	clean, leaky := images(t, rel, dir, secret)
	bundle, key := sealed(t, rel, dir, secret)

	run := func(inputs map[string]string, env ...string) (int, string, string) {
		t.Helper()
		ref := regexp.MustCompile(`\$\[\[\s*inputs\.([a-z0-9-]+)\s*\]\]`)
		text := ref.ReplaceAllStringFunc(docs[1], func(m string) string {
			name := ref.FindStringSubmatch(m)[1]
			in, ok := spec.Spec.Inputs[name]
			if !ok {
				t.Fatalf("the template uses an undeclared input %q", name)
			}
			if v, ok := inputs[name]; ok {
				return v
			}
			if s, ok := in.Default.(string); ok {
				return s
			}
			return "[]"
		})
		var jobs map[string]struct {
			Variables map[string]string `yaml:"variables"`
			Script    []string          `yaml:"script"`
		}
		if err := yaml.Unmarshal([]byte(text), &jobs); err != nil {
			t.Fatalf("the job document: %v\n%s", err, text)
		}
		j, ok := jobs["sealenv-audit"]
		if !ok || len(j.Script) == 0 {
			t.Fatal("no sealenv-audit job with a script")
		}
		work := t.TempDir()
		cmd := exec.Command("bash", "-c", strings.Join(j.Script, "\n"))
		cmd.Dir = work
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + work}, env...)
		for k, v := range j.Variables {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		report, _ := os.ReadFile(filepath.Join(work, "sealenv-audit.json"))
		return code, log.String(), string(report)
	}
	url := "file://" + rel.dir
	if code, log, report := run(map[string]string{"image": clean, "version": version, "release-url": url}); code != 0 || !strings.Contains(report, `"complete": true`) {
		t.Errorf("clean image: exit %d, report %d bytes: %s", code, len(report), log)
	}
	// Keyless by default: the value is found by its fingerprint, with no
	// key in the job, and a key the job has is not used.
	code, log, report := run(map[string]string{"image": leaky, "version": version, "release-url": url, "bundles": bundle})
	if code != 1 || !strings.Contains(report, `"known-value"`) || !strings.Contains(report, `"fingerprint_values": 1`) {
		t.Errorf("leaky image, keyless: exit %d, report %d bytes: %s", code, len(report), log)
	}
	if strings.Contains(log, secret) || strings.Contains(report, secret) {
		t.Error("the job log or the report holds the secret value")
	}
	weakDir := filepath.Join(dir, "weak")
	os.MkdirAll(weakDir, 0o755)
	weak, weakKey := sealed(t, rel, weakDir, "pin-"+secret[4:10])
	if code, log, report := run(map[string]string{"image": clean, "version": version, "release-url": url, "bundles": weak}, "SEALENV_AGE_KEY_FILE="+weakKey); code != 2 || !strings.Contains(report, "too guessable to fingerprint") {
		t.Errorf("a weak value, keyless with a key in the job: exit %d, report %d bytes: %s", code, len(report), log)
	}
	if code, log, _ := run(map[string]string{"image": clean, "version": version, "release-url": url, "bundles": weak, "identity": "job"}, "SEALENV_AGE_KEY_FILE="+weakKey); code != 0 {
		t.Errorf("a weak value, identity job: exit %d: %s", code, log)
	}
	code, log, report = run(map[string]string{"image": leaky, "version": version, "release-url": url, "bundles": bundle, "identity": "job"}, "SEALENV_AGE_KEY_FILE="+key)
	if code != 1 || !strings.Contains(report, `"known-value"`) || strings.Contains(report, `"fingerprint_values"`) {
		t.Errorf("leaky image, identity job: exit %d, report %d bytes: %s", code, len(report), log)
	}
	if code, log, _ := run(map[string]string{"image": clean, "version": version, "release-url": url, "identity": "yes"}); code != 2 || !strings.Contains(log, "none or job") {
		t.Errorf("a bad identity input: exit %d: %s", code, log)
	}
	if code, log, _ := run(map[string]string{"image": clean, "version": version, "release-url": url, "sha256": strings.Repeat("0", 64)}); code == 0 || !strings.Contains(log, "FAILED") {
		t.Errorf("a wrong pinned sha256: exit %d: %s", code, log)
	}
}
