package e2e

// The end-to-end scenarios of issue 7, each for real: BuildKit builds the
// images, podman runs them, and `sealenv audit image` reads what BuildKit
// wrote. The leaks that must fail the audit are in leaks_test.go; the shared
// keys, bundle, CLI runner and the Dockerfile.example image in
// fixture_test.go.

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

const (
	injectorPath = "/usr/local/bin/sealenv-inject"
	identityName = "sealenv_age_key" // the injector's default: /run/secrets/sealenv_age_key
	serving      = "serving; waiting for SIGTERM"
)

// accessLine returns the injector's JSON access line from stderr.
func accessLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["event"] == "sealenv.inject" {
			return m
		}
	}
	t.Fatalf("no sealenv.inject access line on stderr: %q", stderr)
	return nil
}

// Scenario 1: Dockerfile.example, unchanged, builds; the container started
// with the identity as /run/secrets/sealenv_age_key gives the app every
// sealed value; the image audits clean; podman stop ends the app at once
// with its own exit status, in exec mode and under --supervise.
func TestScenarioHappyPath(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	img := example(t, e, f)

	t.Run("config", func(t *testing.T) {
		cfg := ReadArchive(t, img.Archive).Config(t)
		if got := strings.Join(cfg.Config.Entrypoint, " "); got != injectorPath+" --" {
			t.Errorf("Entrypoint %q, want the injector", got)
		}
		for _, kv := range cfg.Config.Env {
			f.NoValues(t, "the image's Env", kv)
		}
	})

	t.Run("audit clean", func(t *testing.T) {
		r := f.ExpectClean(t, img.Ref)
		if r.Coverage.Layers < 3 {
			t.Errorf("the audit read %d layers, want at least 3 (injector, bundle, app)", r.Coverage.Layers)
		}
		// Same image, with Dockerfile.example linted too, where a user
		// keeps it: beside the sealed bundle it copies. The lint checks that
		// file, so the same Dockerfile beside a plaintext one is a finding.
		example, err := os.ReadFile("../Dockerfile.example")
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := os.ReadFile(f.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		repo := t.TempDir()
		writeFile(t, filepath.Join(repo, "Dockerfile"), example, 0o644)
		writeFile(t, filepath.Join(repo, "secrets/prod.env"), sealed, 0o644)
		f.ExpectClean(t, img.Ref, "--dockerfile", filepath.Join(repo, "Dockerfile"))

		writeFile(t, filepath.Join(repo, "secrets/prod.env"), []byte("API_TOKEN="+f.Values["API_TOKEN"]+"\n"), 0o644)
		f.ExpectLeak(t, img.Ref, "--dockerfile", filepath.Join(repo, "Dockerfile")).Has(t,
			Want{Kind: "dockerfile", Rule: "copy-secret-file", Where: "dockerfile", Name: "secrets/prod.env"})
	})

	for _, mode := range []struct {
		name       string
		entrypoint []string
	}{
		{"exec", nil}, // the image's own ENTRYPOINT
		{"supervise", []string{injectorPath, "--supervise", "--"}},
	} {
		t.Run("stop "+mode.name, func(t *testing.T) {
			r := Run{
				Image:      img.Loaded,
				Secrets:    map[string][]byte{identityName: f.KeyText},
				Entrypoint: mode.entrypoint,
			}
			if mode.entrypoint != nil {
				// A new entrypoint drops the image's CMD: give it again.
				r.Cmd = []string{"/app", "--serve", "DATABASE_URL", "API_TOKEN"}
			}
			c := e.Start(t, r)
			c.WaitForLog(t, serving)
			stdout, stderr := c.Logs(t)
			f.SeesAll(t, stdout)
			f.NoValues(t, "the container's stdout", stdout)
			f.NoValues(t, "the container's stderr", stderr)
			al := accessLine(t, stderr)
			if al["mode"] != mode.name || al["command"] != "/app" || al["identity"] != "/run/secrets/"+identityName {
				t.Errorf("access line: mode %v, command %v, identity %v; want %s, /app, /run/secrets/%s", al["mode"], al["command"], al["identity"], mode.name, identityName)
			}

			// The app's own environment: the values and no identity variable.
			// (In exec mode the app is PID 1; under --supervise it is PID 1's child.)
			if mode.name == "exec" {
				top := c.e.PodmanOut(t, "top", c.Name, "pid", "comm")
				if !strings.Contains(top, "1 ") || !strings.Contains(top, "app") || strings.Contains(top, "sealenv-inject") {
					t.Errorf("exec mode: the app should have replaced the injector as PID 1; podman top:\n%s", top)
				}
			}

			// Nothing written to disk: podman's own changes only (/etc for
			// hosts and the USER's passwd and group entries, the mounted
			// identity).
			for _, d := range c.Diff(t) {
				switch strings.TrimPrefix(strings.TrimPrefix(d, "A "), "C ") {
				case "/etc", "/etc/group", "/etc/passwd", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
					"/run", "/run/secrets", "/run/secrets/" + identityName:
				default:
					t.Errorf("the container wrote to its file system: podman diff has %q", d)
				}
			}
			st := c.StopOnSIGTERM(t)
			if st.ExitCode != 0 {
				t.Errorf("exit %d after podman stop, want 0 (the app's own status on SIGTERM); stderr %q", st.ExitCode, st.Stderr)
			}
			if !strings.Contains(st.Stdout, "got terminated, exiting") {
				t.Errorf("the app did not get SIGTERM; stdout:\n%s", st.Stdout)
			}
		})
	}

	t.Run("run to the end", func(t *testing.T) {
		// docker run IMAGE ARGS: the arguments replace CMD only.
		res := e.Run(t, Run{
			Image:   img.Loaded,
			Cmd:     []string{"/app", "DATABASE_URL", "API_TOKEN", "SEALENV_AGE_KEY_FILE"},
			Secrets: map[string][]byte{identityName: f.KeyText},
			Env:     map[string]string{"SEALENV_AGE_KEY_FILE": "/run/secrets/" + identityName},
		})
		// The identity variable is removed: the app reports it missing (exit 1).
		if res.ExitCode != 1 || !strings.Contains(res.Stdout, "SEALENV_AGE_KEY_FILE: missing\n") {
			t.Errorf("exit %d, stdout:\n%s\nwant the identity variable removed (exit 1, missing)", res.ExitCode, res.Stdout)
		}
		f.SeesAll(t, res.Stdout)
	})
}

// Scenario 3: a wrong identity, or a bundle changed after sealing, stops
// the start: exit 125, one line on stderr that says why, and the app never
// runs (it prints nothing).
func TestScenarioRuntimeFailures(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	img := example(t, e, f)
	sealed, err := os.ReadFile(f.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	// One character of API_TOKEN's ciphertext changed.
	const head = "API_TOKEN=ENC[AES256_GCM,data:"
	i := strings.Index(string(sealed), head)
	if i < 0 {
		t.Fatalf("the bundle has no %s", head)
	}
	b := []byte(string(sealed))
	i += len(head)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	flipped := string(b)
	// A whole key removed: every remaining value still decrypts.
	var kept []string
	for _, l := range strings.Split(string(sealed), "\n") {
		if !strings.HasPrefix(l, "DATABASE_URL=") {
			kept = append(kept, l)
		}
	}
	removed := strings.Join(kept, "\n")
	if flipped == string(sealed) || removed == string(sealed) {
		t.Fatal("could not tamper with the bundle")
	}

	for _, tc := range []struct {
		name     string
		identity []byte
		bundle   string // mounted over /etc/sealenv/bundle.env when set
		reason   string
	}{
		{"wrong identity", f.Wrong, "", "/etc/sealenv/bundle.env: no identity matches"},
		{"changed ciphertext", f.KeyText, flipped, "/etc/sealenv/bundle.env: value of API_TOKEN: failed authentication"},
		{"removed key", f.KeyText, removed, "/etc/sealenv/bundle.env: MAC mismatch"},
		{"no identity", nil, "", "/etc/sealenv/bundle.env: no identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run{Image: img.Loaded}
			if tc.identity != nil {
				r.Secrets = map[string][]byte{identityName: tc.identity}
			}
			if tc.bundle != "" {
				r.Files = map[string][]byte{"/etc/sealenv/bundle.env": []byte(tc.bundle)}
			}
			res := e.Run(t, r)
			if res.ExitCode != 125 {
				t.Errorf("exit %d, want 125", res.ExitCode)
			}
			if res.Stdout != "" {
				t.Errorf("the app ran: stdout %q", res.Stdout)
			}
			f.NoValues(t, "stderr", res.Stderr)
			lines := strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "sealenv-inject: error: ") || !strings.Contains(lines[0], tc.reason) {
				t.Errorf("stderr %q, want one line: sealenv-inject: error: ...%s...", res.Stderr, tc.reason)
			}
			t.Logf("stderr: %s", strings.TrimSpace(res.Stderr))
		})
	}
}

// Scenario 4: under --redact an app that prints its secrets writes only
// [REDACTED:NAME] to the container's logs, on stdout and on stderr.
func TestScenarioRedact(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	img := example(t, e, f)
	res := e.Run(t, Run{
		Image:      img.Loaded,
		Entrypoint: []string{injectorPath, "--redact", "--"},
		Cmd:        []string{"/app", "--print", "DATABASE_URL", "API_TOKEN"},
		Secrets:    map[string][]byte{identityName: f.KeyText},
	})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d; stderr %q", res.ExitCode, res.Stderr)
	}
	f.NoValues(t, "the container's stdout", res.Stdout)
	f.NoValues(t, "the container's stderr", res.Stderr)
	want := "DATABASE_URL=[REDACTED:DATABASE_URL]\nAPI_TOKEN=[REDACTED:API_TOKEN]\n"
	if res.Stdout != want {
		t.Errorf("stdout %q, want %q", res.Stdout, want)
	}
	if al := accessLine(t, res.Stderr); al["mode"] != "redact" {
		t.Errorf("access line mode %v, want redact", al["mode"])
	}

	// The same without --redact prints the values (so the check above can fail).
	plain := e.Run(t, Run{
		Image:   img.Loaded,
		Cmd:     []string{"/app", "--print", "API_TOKEN"},
		Secrets: map[string][]byte{identityName: f.KeyText},
	})
	if plain.ExitCode != 0 || plain.Stdout != "API_TOKEN="+f.Values["API_TOKEN"]+"\n" {
		t.Errorf("without --redact: exit %d and the app did not print the value it got", plain.ExitCode)
	}
}

// Scenario 5: the image pushed to a registry (go-containerregistry's
// in-memory one over plain HTTP on 127.0.0.1) audits clean through
// docker://, and a leaky one pushed next to it does not.
func TestScenarioRegistry(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	b := exampleBuild(t, e, f)
	b.Push = host + "/sealenv-e2e/app:1"
	img := e.Build(t, b)
	r := f.ExpectClean(t, img.Ref, "--insecure")
	if r.Coverage.Images != 1 || r.Coverage.Layers < 3 {
		t.Errorf("the audit read %d images, %d layers from the registry; want 1 and at least 3", r.Coverage.Images, r.Coverage.Layers)
	}

	// Pulled back and run: it is the sealed, working image.
	e.PodmanOut(t, "pull", "--quiet", "--tls-verify=false", b.Push)
	res := e.Run(t, Run{
		Image:   b.Push,
		Cmd:     []string{"/app", "DATABASE_URL", "API_TOKEN"},
		Secrets: map[string][]byte{identityName: f.KeyText},
	})
	if res.ExitCode != 0 {
		t.Errorf("the pulled image: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	f.SeesAll(t, res.Stdout)

	leaky := e.Build(t, Build{
		Dockerfile: "FROM scratch\nCOPY app /app\nENV API_TOKEN=" + f.Values["API_TOKEN"] + "\nENTRYPOINT [\"/app\"]\n",
		Copy:       map[string]string{"app": e.GoBuild(t, "../examples/app")},
		Push:       host + "/sealenv-e2e/leaky:1",
	})
	f.ExpectLeak(t, leaky.Ref, "--insecure").Has(t,
		Want{Kind: "rule", Rule: "secret-variable", Where: "config", Name: "API_TOKEN", Field: `~^config\.Env\[\d+\]$`},
		Want{Kind: "known-value", Secret: "API_TOKEN", Where: "config", Field: `~^config\.Env\[\d+\]$`, Encoding: "raw"},
	)
}

// Scenario 6: an image built without the injector (FROM scratch and the app
// only) is sealed with sealenv wrap, from a docker-archive and from an
// oci-archive into a docker-archive; podman loads and runs it with its
// secrets, and it audits clean.
func TestScenarioWrap(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	inj := e.GoBuild(t, "../cmd/sealenv-inject")
	app := e.GoBuild(t, "../examples/app")
	const dockerfile = `FROM scratch
COPY app /app
USER 65532:65532
ENTRYPOINT ["/app"]
CMD ["--serve", "DATABASE_URL", "API_TOKEN"]
`
	for _, output := range []string{"docker", "oci"} {
		t.Run(output, func(t *testing.T) {
			img := e.Build(t, Build{Dockerfile: dockerfile, Copy: map[string]string{"app": app}, Output: output})
			want := map[string]string{"docker": "docker-archive:", "oci": "oci-archive:"}[output]
			if !strings.HasPrefix(img.Ref, want) {
				t.Fatalf("Ref %q, want %s", img.Ref, want)
			}
			// Unsealed, the app gets nothing.
			plain := e.Run(t, Run{Image: e.Load(t, img), Cmd: []string{"DATABASE_URL"}})
			if plain.ExitCode != 1 || plain.Stdout != "DATABASE_URL: missing\n" {
				t.Errorf("the unwrapped image: exit %d, stdout %q", plain.ExitCode, plain.Stdout)
			}

			dest := filepath.Join(t.TempDir(), "wrapped.tar")
			tag := "sealenv-e2e-wrapped-" + output
			res := f.Run(t, f.Dir, nil, nil, "wrap", img.Ref, "docker-archive:"+dest+":"+tag,
				"--bundle", f.Bundle, "--injector", inj, "--identity", f.Key, "--audit")
			if res.Code != 0 {
				t.Fatalf("sealenv wrap: exit %d: %s", res.Code, res.Stderr)
			}
			wrapped := Image{Archive: dest, Ref: "docker-archive:" + dest}
			cfg := dockerArchiveConfig(t, dest)
			// [injector, (--bundle P)..., --, original entrypoint...]
			if got := strings.Join(cfg.Config.Entrypoint, " "); !strings.HasPrefix(got, injectorPath+" ") || !strings.HasSuffix(got, " -- /app") {
				t.Errorf("wrapped Entrypoint %q, want %s ... -- /app", got, injectorPath)
			}
			if got := strings.Join(cfg.Config.Cmd, " "); got != "--serve DATABASE_URL API_TOKEN" {
				t.Errorf("wrapped Cmd %q, want the original", got)
			}
			if got := cfg.Config.Labels["io.sealenv.wrap.keys"]; !strings.Contains(got, "API_TOKEN") || !strings.Contains(got, "DATABASE_URL") {
				t.Errorf("label io.sealenv.wrap.keys %q, want both key names", got)
			}
			f.ExpectClean(t, wrapped.Ref)

			name := e.Load(t, wrapped)
			c := e.Start(t, Run{Image: name, Secrets: map[string][]byte{identityName: f.KeyText}})
			c.WaitForLog(t, serving)
			stdout, stderr := c.Logs(t)
			f.SeesAll(t, stdout)
			f.NoValues(t, "the container's stderr", stderr)
			const grace = 60 * time.Second
			st := c.Stop(t, grace)
			if st.ExitCode != 0 || st.Elapsed >= grace {
				t.Errorf("podman stop: exit %d after %v, want 0 at once", st.ExitCode, st.Elapsed)
			}

			// Without the identity the wrapped image does not start the app.
			res2 := e.Run(t, Run{Image: name})
			if res2.ExitCode != 125 || res2.Stdout != "" {
				t.Errorf("the wrapped image without identity: exit %d, stdout %q; want 125 and nothing", res2.ExitCode, res2.Stdout)
			}
		})
	}
}

// Scenario 7: in a real git repository with a pre-commit hook
// (scripts/hooks/pre-commit), sealenv check and sealenv scan --staged fail
// a commit that adds the policy's bundle as a plaintext .env, and pass it
// once the file is sealed.
func TestScenarioPolicyGate(t *testing.T) {
	e := baseEnv(t)
	gitTool, err := exec.LookPath("git")
	if err != nil {
		missing(t, "git not found on PATH")
	}
	f := fixture(t, e)
	repo := t.TempDir()
	bin := t.TempDir()
	if err := os.Symlink(f.Sealenv, filepath.Join(bin, "sealenv")); err != nil {
		t.Fatal(err)
	}
	gitEnv := append(cleanEnv(f.Home),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
	git := func(args ...string) (string, error) {
		cmd := exec.Command(gitTool, args...)
		cmd.Dir = repo
		cmd.Env = gitEnv
		out, err := cmd.CombinedOutput()
		f.NoValues(t, "git "+args[0]+" output", string(out))
		return string(out), err
	}
	mustGit := func(args ...string) {
		t.Helper()
		if out, err := git(args...); err != nil {
			t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	mustGit("init", "--quiet", "--initial-branch=main")
	hook, err := os.ReadFile("../scripts/hooks/pre-commit")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, ".git/hooks/pre-commit"), hook, 0o755)

	policy := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n      - key: " +
		f.Recipient + "\n        owner: e2e@example.com\n    required: [DATABASE_URL, API_TOKEN]\n"
	// The hook passes an ordinary commit.
	writeFile(t, filepath.Join(repo, "README"), []byte("an app\n"), 0o644)
	mustGit("add", "README")
	mustGit("commit", "--quiet", "-m", "readme")

	// A developer adds the policy and writes its bundle in plaintext.
	writeFile(t, filepath.Join(repo, "sealenv.yaml"), []byte(policy), 0o644)
	var plain strings.Builder
	for _, n := range f.Names {
		plain.WriteString(n + "=" + f.Values[n] + "\n")
	}
	writeFile(t, filepath.Join(repo, "secrets/prod.env"), []byte(plain.String()), 0o644)
	mustGit("add", "sealenv.yaml", "secrets/prod.env")

	check := f.Run(t, repo, nil, nil, "check", "--no-identity")
	if check.Code != 1 || !strings.Contains(check.Stdout, "not-sealed") {
		t.Errorf("sealenv check on a plaintext bundle: exit %d, want 1 with not-sealed; stdout %q stderr %q", check.Code, check.Stdout, check.Stderr)
	}
	scan := f.Run(t, repo, nil, nil, "scan", "--staged", "--format", "json")
	var sr AuditReport
	if err := json.Unmarshal([]byte(scan.Stdout), &sr); err != nil || scan.Code != 1 {
		t.Fatalf("sealenv scan --staged on a plaintext bundle: exit %d, want 1 (%v); stderr %q", scan.Code, err, scan.Stderr)
	}
	sr.Has(t,
		Want{Kind: "plaintext-bundle", Path: "secrets/prod.env"},
		Want{Rule: "unsealed-policy-bundle", Path: "secrets/prod.env"},
	)
	if out, err := git("commit", "--quiet", "-m", "add the prod secrets"); err == nil {
		t.Errorf("the pre-commit hook let a plaintext bundle be committed: %s", out)
	}
	if out, _ := git("log", "--format=%s"); strings.Contains(out, "add the prod secrets") {
		t.Fatalf("the plaintext bundle was committed")
	}

	// Sealed in place (plaintext from stdin, never on disk again), staged
	// again: check, scan and the commit pass.
	if err := os.Remove(filepath.Join(repo, "secrets/prod.env")); err != nil {
		t.Fatal(err)
	}
	if res := f.Run(t, repo, []byte(plain.String()), nil, "seal", "--env", "prod", "-i", "-"); res.Code != 0 {
		t.Fatalf("sealenv seal --env prod: exit %d: %s", res.Code, res.Stderr)
	}
	mustGit("add", "secrets/prod.env")
	check = f.Run(t, repo, nil, nil, "check", "--no-identity")
	if check.Code != 0 {
		t.Errorf("sealenv check on the sealed bundle: exit %d; stdout %q stderr %q", check.Code, check.Stdout, check.Stderr)
	}
	// With the identity too: every value checked, and searched for in the index.
	keyEnv := []string{"SEALENV_AGE_KEY_FILE=" + f.Key}
	if res := f.Run(t, repo, nil, keyEnv, "check"); res.Code != 0 {
		t.Errorf("sealenv check with the identity: exit %d; stdout %q stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	for _, env := range [][]string{nil, keyEnv} {
		if res := f.Run(t, repo, nil, env, "scan", "--staged"); res.Code != 0 {
			t.Errorf("sealenv scan --staged on the sealed bundle (identity %v): exit %d; stdout %q stderr %q", env != nil, res.Code, res.Stdout, res.Stderr)
		}
	}
	if out, err := git("commit", "--quiet", "-m", "add the prod secrets, sealed"); err != nil {
		t.Fatalf("the pre-commit hook refused the sealed bundle: %v: %s", err, out)
	}
	blob, err := git("show", "HEAD:secrets/prod.env")
	if err != nil || !strings.Contains(blob, "API_TOKEN=ENC[") {
		t.Errorf("the committed bundle is not sealed (%v)", err)
	}
}

// dockerArchiveConfig reads the image config of a docker-archive that has
// only a manifest.json (go-containerregistry's tarball, as sealenv wrap
// writes it), where Archive.Config wants an OCI index.json.
func dockerArchiveConfig(t *testing.T, path string) ImageConfig {
	t.Helper()
	a := ReadArchive(t, path)
	var m []struct {
		Config   string   `json:"Config"`
		RepoTags []string `json:"RepoTags"`
	}
	if err := json.Unmarshal(a.Files["manifest.json"], &m); err != nil || len(m) != 1 {
		t.Fatalf("%s: manifest.json: want one image (%v)", path, err)
	}
	b, ok := a.Files[m[0].Config]
	if !ok {
		t.Fatalf("%s: no config %s", path, m[0].Config)
	}
	var c ImageConfig
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: config: %v", path, err)
	}
	return c
}
