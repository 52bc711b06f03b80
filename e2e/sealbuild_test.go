package e2e

// `sealenv build` (issue 15) against the harness's real buildkitd: secrets
// served from the sealed bundle through the BuildKit session, the lint and
// the build-argument check before any build, the audit of the exported
// image before anything is written, multi-platform images, tcp:// with
// mutual TLS, and a sampler of every process's environment and command
// line while the build runs.

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
	"strings"
	"sync"
	"testing"
	"time"
)

// SealBuild is one `sealenv build` run: a new context with the probe and
// Files, the Dockerfile in it, the fixture's bundle and identity.
type SealBuild struct {
	Dockerfile string
	Files      map[string][]byte
	Flags      []string // more flags, before CONTEXT
	Dest       string   // default oci-archive:<temp>/image.tar
	NoOutput   bool     // no -o (--push, --load, or nothing written)
	Addr       string   // default the harness's unix socket
	// Bundle and Key replace the fixture's bundle and identity; Env adds
	// variables (DOCKER_HOST).
	Bundle, Key string
	Env         []string
}

// SealBuildResult is what the run did.
type SealBuildResult struct {
	CLIResult
	Report   AuditReport
	Dest     string // the reference passed as -o
	DestPath string // its file or folder
}

func sealBuild(t *testing.T, e *Env, f *Fixture, b SealBuild) SealBuildResult {
	t.Helper()
	ctx := t.TempDir()
	copyFile(t, e.GoBuild(t, "./testdata/probe"), filepath.Join(ctx, "probe"))
	writeFile(t, filepath.Join(ctx, "Dockerfile"), []byte(b.Dockerfile), 0o644)
	for rel, content := range b.Files {
		writeFile(t, filepath.Join(ctx, rel), content, 0o644)
	}
	out := SealBuildResult{Dest: b.Dest}
	if out.Dest == "" {
		out.Dest = "oci-archive:" + filepath.Join(t.TempDir(), "image.tar")
	}
	_, out.DestPath, _ = strings.Cut(out.Dest, ":")
	if i := strings.Index(out.DestPath, ":"); i >= 0 {
		out.DestPath = out.DestPath[:i]
	}
	addr := b.Addr
	if addr == "" {
		addr = e.Addr
	}
	bundle, key := f.Bundle, f.Key
	if b.Bundle != "" {
		bundle, key = b.Bundle, b.Key
	}
	args := []string{"build", "--addr", addr, "--bundle", bundle, "--identity", key,
		"--progress", "plain", "--format", "json"}
	if !b.NoOutput {
		args = append(args, "-o", out.Dest)
	} else {
		out.Dest, out.DestPath = "", ""
	}
	args = append(append(args, b.Flags...), ctx)
	out.CLIResult = f.Run(t, ctx, nil, b.Env, args...)
	if out.Stdout != "" {
		if err := json.Unmarshal([]byte(out.Stdout), &out.Report); err != nil {
			t.Fatalf("sealenv build: exit %d, report is not JSON: %v; stderr: %s", out.Code, err, oneLine([]byte(out.Stderr)))
		}
	}
	return out
}

// noDest fails t if the destination exists.
func (r SealBuildResult) noDest(t *testing.T) {
	t.Helper()
	if r.DestPath == "" {
		return
	}
	if _, err := os.Lstat(r.DestPath); err == nil {
		t.Errorf("%s exists: nothing may be written when the build has findings", r.DestPath)
	}
}

func (r SealBuildResult) want(t *testing.T, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("sealenv build: exit %d, want %d; stderr:\n%s\nreport: %s", r.Code, code, tail(r.Stderr, 30), r.Report)
	}
}

func hasPrefixed(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// The Dockerfile of the proof: the secret reaches RUN as an environment
// variable from the session, and only its hash is kept.
const hashTokenDockerfile = `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN ["/probe", "hash-env", "API_TOKEN", "/token.sha256"]
`

func TestSealBuild(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	token := f.Values["API_TOKEN"]
	// An address nothing listens on: exit 1 there proves BuildKit was
	// never contacted (a build would fail with exit 2).
	nowhere := "unix://" + filepath.Join(e.Dir, "nothing-listens-here.sock")

	t.Run("secret served and hashed: clean, written", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, Flags: []string{"--attest", "provenance=max"}})
		r.want(t, 0)
		if !r.Report.Coverage.Complete || len(r.Report.Findings) != 0 || r.Report.Coverage.KnownValues != len(f.Names) {
			t.Errorf("report: complete=%v known=%d %s", r.Report.Coverage.Complete, r.Report.Coverage.KnownValues, r.Report)
		}
		// The provenance names the secret by its cache id: API_TOKEN#HMAC.
		if len(r.Report.Provenance) == 0 || r.Report.Provenance[0].Mode != "max" || !hasPrefixed(r.Report.Provenance[0].Secrets, "API_TOKEN#") {
			t.Errorf("provenance %+v: want mode max naming the secret API_TOKEN#... (the attestation was audited)", r.Report.Provenance)
		}
		if !strings.Contains(r.Stderr, "RUN --mount=type=secret,id=API_TOKEN") || !strings.Contains(r.Stderr, "audited clean") {
			t.Errorf("stderr has no progress or no result line:\n%s", tail(r.Stderr, 20))
		}
		a := ReadArchive(t, r.DestPath)
		cfg := a.Config(t)
		files := a.LayerFiles(t, cfg.Layers[len(cfg.Layers)-1])
		if got := string(files["token.sha256"]); got != sha256Hex(token) {
			t.Errorf("the image's /token.sha256 is %q, want the SHA-256 of the sealed API_TOKEN", got)
		}
		if len(a.Attestations(t)) == 0 {
			t.Errorf("DEST has no attestation: the provenance was not written")
		}
		// The image on disk is what was audited: sealenv audit agrees.
		f.ExpectClean(t, "oci-archive:"+r.DestPath)
	})

	t.Run("a step that prints the secret: the progress is redacted", func(t *testing.T) {
		t.Parallel()
		// f.Run fails the test if a value reaches stdout or stderr.
		r := sealBuild(t, e, f, SealBuild{Dockerfile: `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN ["/probe", "env"]
`, Flags: []string{"--no-cache"}})
		r.want(t, 0)
		if !strings.Contains(r.Stderr, "API_TOKEN=[REDACTED:API_TOKEN]") {
			t.Errorf("the step's output is not in the progress, redacted:\n%s", tail(r.Stderr, 20))
		}
		// rawjson carries the output base64-encoded: decode it as its
		// consumers do.
		r = sealBuild(t, e, f, SealBuild{Dockerfile: `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN ["/probe", "env"]
`, Flags: []string{"--no-cache", "--progress", "rawjson"}})
		r.want(t, 0)
		var logs strings.Builder
		dec := json.NewDecoder(strings.NewReader(r.Stderr))
		for {
			var st struct{ Logs []struct{ Data []byte } }
			if err := dec.Decode(&st); err != nil {
				break
			}
			for _, l := range st.Logs {
				logs.Write(l.Data)
			}
		}
		f.NoValues(t, "the decoded rawjson progress", logs.String())
		if !strings.Contains(logs.String(), "API_TOKEN=[REDACTED:API_TOKEN]") {
			t.Errorf("the step's output is not in the rawjson progress, redacted: %q", logs.String())
		}
	})

	t.Run("secret written to a file: exit 1, nothing written", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{Dockerfile: `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN ["/probe", "save-env", "API_TOKEN", "/srv/token"]
`})
		r.want(t, 1)
		r.noDest(t)
		r.Report.Has(t, Want{Kind: "known-value", Rule: "sealed-value", Secret: "API_TOKEN", Where: "layer",
			Path: "srv/token", Layer: intp(1), LayerDigest: "~^sha256:[0-9a-f]{64}$", Offset: int64p(0), Encoding: "raw"})
		if !strings.Contains(r.Stderr, "nothing was written") {
			t.Errorf("stderr does not say nothing was written:\n%s", tail(r.Stderr, 5))
		}
	})

	t.Run("build-arg with a sealed value: exit 1 before any build", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nARG TOKEN\nRUN [\"/probe\", \"write\", \"/x\", \"y\"]\n",
			Flags:      []string{"--build-arg", "TOKEN=" + token},
			Addr:       nowhere,
		})
		r.want(t, 1)
		r.noDest(t)
		r.Report.Has(t,
			Want{Kind: "known-value", Rule: "sealed-value", Secret: "API_TOKEN", Where: "build-arg", Field: "TOKEN", Encoding: "raw"},
			Want{Kind: "build-arg", Rule: "secret-build-arg", Name: "TOKEN", Where: "build-arg"},
		)
		if !strings.Contains(r.Stderr, "nothing was built") {
			t.Errorf("stderr does not say nothing was built:\n%s", tail(r.Stderr, 5))
		}
	})

	t.Run("ARG and ENV of secret names: warnings, and the audit of the image decides", func(t *testing.T) {
		t.Parallel()
		// Heuristics do not stop the build; the image's config holds
		// DATABASE_URL with a value, which its audit reports.
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nARG API_TOKEN\nENV DATABASE_URL=postgres://app@db/app\n",
		})
		r.want(t, 1)
		r.noDest(t)
		r.Report.Has(t, Want{Rule: "secret-variable", Name: "DATABASE_URL", Where: "config"})
		for _, w := range []string{"warning: ", "secret-arg: ARG API_TOKEN", "secret-env: ENV DATABASE_URL"} {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("stderr does not warn %q:\n%s", w, tail(r.Stderr, 10))
			}
		}
	})

	t.Run("multi-platform: every platform audited, the leaky one named", func(t *testing.T) {
		t.Parallel()
		// No RUN: a FROM scratch COPY builds for any platform without
		// emulation. Only the arm64 image gets the sealed value.
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nARG TARGETARCH\nCOPY conf-${TARGETARCH}.txt /etc/app.conf\n",
			Files: map[string][]byte{
				"conf-amd64.txt": []byte("upstream=db.internal\n"),
				"conf-arm64.txt": []byte("upstream=" + f.Values["DATABASE_URL"] + "\n"),
			},
			Flags: []string{"--platform", "linux/amd64,linux/arm64", "--attest", "provenance=min"},
			Dest:  "oci:" + filepath.Join(t.TempDir(), "layout"),
		})
		r.want(t, 1)
		r.noDest(t)
		if r.Report.Coverage.Images < 2 || r.Report.Coverage.Attestations < 2 {
			t.Errorf("coverage images=%d attestations=%d: want both platforms and their attestations", r.Report.Coverage.Images, r.Report.Coverage.Attestations)
		}
		r.Report.Has(t, Want{Kind: "known-value", Secret: "DATABASE_URL", Where: "layer", Path: "etc/app.conf"})
		for _, fd := range r.Report.Findings {
			if fd.Where == "layer" && !strings.Contains(fd.Image, "arm64") {
				t.Errorf("finding in the image %q, want only linux/arm64: %s", fd.Image, fd)
			}
		}
	})

	t.Run("multi-platform clean: the index is written", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nARG TARGETARCH\nCOPY conf-${TARGETARCH}.txt /etc/app.conf\n",
			Files: map[string][]byte{
				"conf-amd64.txt": []byte("upstream=db.internal\n"),
				"conf-arm64.txt": []byte("upstream=db.arm.internal\n"),
			},
			Flags: []string{"--platform", "linux/amd64,linux/arm64"},
			Dest:  "oci-archive:" + filepath.Join(t.TempDir(), "multi.tar"),
		})
		r.want(t, 0)
		a := ReadArchive(t, r.DestPath)
		var archs []string
		for _, d := range a.manifests(t) {
			if d.Platform != nil && !isAttestation(d) {
				archs = append(archs, d.Platform.Architecture)
			}
		}
		if strings.Join(archs, ",") != "amd64,arm64" {
			t.Errorf("DEST holds images for %q, want amd64,arm64", archs)
		}
	})

	t.Run("tcp:// with mutual TLS", func(t *testing.T) {
		t.Parallel()
		dest := "docker-archive:" + filepath.Join(t.TempDir(), "image.tar") + ":localhost/sealenv-tls:1"
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, Addr: e.TCPAddr, Dest: dest,
			Flags: []string{"--tls-ca-cert", e.TLS.CA, "--tls-cert", e.TLS.ClientCert, "--tls-key", e.TLS.ClientKey}})
		r.want(t, 0)
		var m []struct {
			RepoTags []string
			Layers   []string
		}
		if err := json.Unmarshal(ReadArchive(t, r.DestPath).Files["manifest.json"], &m); err != nil || len(m) != 1 {
			t.Fatalf("docker-archive DEST: manifest.json: %v (%d images)", err, len(m))
		}
		if len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != "localhost/sealenv-tls:1" || len(m[0].Layers) != 2 {
			t.Errorf("docker-archive DEST: tags %q, %d layers; want localhost/sealenv-tls:1 and 2", m[0].RepoTags, len(m[0].Layers))
		}
		f.ExpectClean(t, "docker-archive:"+r.DestPath)
	})

	t.Run("tcp:// without TLS is refused", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, Addr: e.TCPAddr})
		r.want(t, 2)
		r.noDest(t)
		if !strings.Contains(r.Stderr, "plaintext") || !strings.Contains(r.Stderr, "--tls-ca-cert") {
			t.Errorf("stderr: %s", r.Stderr)
		}
	})

	t.Run("tcp:// with a client certificate the server's CA did not sign", func(t *testing.T) {
		t.Parallel()
		other, err := makeTLS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, Addr: e.TCPAddr,
			Flags: []string{"--tls-ca-cert", e.TLS.CA, "--tls-cert", other.ClientCert, "--tls-key", other.ClientKey}})
		r.want(t, 2)
		r.noDest(t)
		t.Logf("stderr: %s", lastNonEmpty(r.Stderr))
	})
}

// procSampler reads /proc/*/environ and /proc/*/cmdline of every process
// until stopped, and records which values it saw where (by name only).
type procSampler struct {
	values map[string][]byte
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	seen   map[string]string // value name -> "pid N (comm) environ|cmdline"
	rounds int
	procs  map[string]bool // command names sampled
}

func startSampler(values map[string]string) *procSampler {
	s := &procSampler{values: map[string][]byte{}, stop: make(chan struct{}), done: make(chan struct{}),
		seen: map[string]string{}, procs: map[string]bool{}}
	for k, v := range values {
		s.values[k] = []byte(v)
	}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			s.round()
		}
	}()
	return s
}

func (s *procSampler) round() {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, _ := os.ReadFile(d + "/comm")
		name := strings.TrimSpace(string(comm))
		for _, part := range []string{"environ", "cmdline"} {
			b, err := os.ReadFile(d + "/" + part)
			if err != nil {
				continue // gone, or a kernel thread
			}
			s.mu.Lock()
			s.procs[name] = true
			for k, v := range s.values {
				if _, dup := s.seen[k]; !dup && bytes.Contains(b, v) {
					s.seen[k] = fmt.Sprintf("pid %s (%s) %s", filepath.Base(d), name, part)
				}
			}
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.rounds++
	s.mu.Unlock()
}

func (s *procSampler) Stop() (seen map[string]string, rounds int, procs map[string]bool) {
	close(s.stop)
	<-s.done
	return s.seen, s.rounds, s.procs
}

// While `sealenv build` serves the secrets, no process on the machine has a
// sealed value in its environment or command line. The control shows the
// sampler would see one: `sealenv inject -- buildctl`, the pattern sealenv
// build replaces, puts the value in buildctl's environment.
func TestSealBuildProcSampler(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	// The file form: the value reaches the RUN step as a file on a tmpfs,
	// not as a variable of the step's process (env= would put it, by
	// the user's choice, in the step's own environment).
	dockerfile := `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN --mount=type=secret,id=DATABASE_URL ["/probe", "sleep", "1.5"]
RUN --mount=type=secret,id=API_TOKEN ["/probe", "hash-file", "/run/secrets/API_TOKEN", "/token.sha256"]
`
	s := startSampler(f.Values)
	start := time.Now()
	r := sealBuild(t, e, f, SealBuild{Dockerfile: dockerfile, Flags: []string{"--no-cache"}})
	seen, rounds, procs := s.Stop()
	r.want(t, 0)
	t.Logf("sampled every process %d times in %v", rounds, time.Since(start).Round(time.Millisecond))
	if rounds < 10 {
		t.Errorf("only %d sampling rounds during the build", rounds)
	}
	for _, p := range []string{filepath.Base(f.Sealenv), "buildkitd", "probe"} {
		if len(p) > 15 {
			p = p[:15] // comm is cut at 15 bytes
		}
		if !procs[p] {
			t.Errorf("the sampler never saw a %s process: it did not sample during the build", p)
		}
	}
	for name, where := range seen {
		t.Errorf("the value of %s was in %s", name, where)
	}
	a := ReadArchive(t, r.DestPath)
	cfg := a.Config(t)
	if got := string(a.LayerFiles(t, cfg.Layers[len(cfg.Layers)-1])["token.sha256"]); got != sha256Hex(f.Values["API_TOKEN"]) {
		t.Errorf("the build did not get the sealed API_TOKEN (hash %q)", got)
	}

	t.Run("control: inject -- buildctl", func(t *testing.T) {
		s := startSampler(map[string]string{"API_TOKEN": f.Values["API_TOKEN"]})
		img := e.Build(t, Build{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nRUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN [\"/probe\", \"sleep\", \"1.5\"]\n",
			Copy:       map[string]string{"probe": e.GoBuild(t, "./testdata/probe")},
			Wrap:       []string{f.Sealenv, "inject", "--bundle", f.Bundle, "--identity", f.Key, "--"},
			EnvSecrets: []string{"API_TOKEN"},
			NoCache:    true,
		})
		seen, _, _ := s.Stop()
		f.NoValues(t, "the build log", img.Log)
		if seen["API_TOKEN"] == "" {
			t.Fatalf("the sampler did not see the value in any process during inject -- buildctl: it cannot be trusted")
		}
		t.Logf("as expected, the value was in %s", seen["API_TOKEN"])
	})
}

// SIGINT during the build cancels it: exit 130, and the private export
// folder is gone.
func TestSealBuildInterrupted(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	ctx := t.TempDir()
	copyFile(t, e.GoBuild(t, "./testdata/probe"), filepath.Join(ctx, "probe"))
	writeFile(t, filepath.Join(ctx, "Dockerfile"), []byte(`FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN ["/probe", "sleep", "60"]
`), 0o644)
	tmp := t.TempDir()
	dest := filepath.Join(t.TempDir(), "image.tar")
	cmd := exec.Command(f.Sealenv, "build", "--addr", e.Addr, "--bundle", f.Bundle, "--identity", f.Key,
		"--progress", "plain", "--no-cache", "-o", "oci-archive:"+dest, ctx)
	cmd.Env = append(cleanEnv(f.Home), "TMPDIR="+tmp)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(stderr.String(), `"sleep", "60"`) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the build did not reach the sleeping step:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(sent)
	f.NoValues(t, "stderr", stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130; stderr:\n%s", err, tail(stderr.String(), 10))
	}
	if took > 20*time.Second {
		t.Errorf("it took %v to stop", took)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted:\n%s", tail(stderr.String(), 3))
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("%s left in TMPDIR", left[0].Name())
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("DEST written")
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
