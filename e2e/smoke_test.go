package e2e

// Smoke tests of the harness itself: each proves one real part works here,
// end to end, so that a failing scenario test points at sealenv and not at
// the machine.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// The syntax line would make BuildKit pull docker/dockerfile:1 as the
// frontend; the harness has the built-in frontend ignore it.
const probeImage = `# syntax=docker/dockerfile:1
FROM scratch
COPY probe /probe
ENV SEALENV_E2E_IMAGE_ENV=from-the-image
ENTRYPOINT ["/probe"]
CMD ["env"]
`

// buildProbeImage builds and loads a FROM scratch image whose entrypoint is
// the probe, and returns its podman name.
func buildProbeImage(t *testing.T, e *Env) string {
	t.Helper()
	probe := e.GoBuild(t, "./testdata/probe")
	img := e.Build(t, Build{Dockerfile: probeImage, Copy: map[string]string{"probe": probe}})
	return e.Load(t, img)
}

// BuildKit builds a FROM scratch image with a static Go program; podman loads
// and runs it with an env var and a file under /run/secrets/.
func TestSmokeScratchImageRuns(t *testing.T) {
	e := need(t)
	name := buildProbeImage(t, e)

	value := randomValue(t, 16)
	res := e.Run(t, Run{Image: name, Env: map[string]string{"SEALENV_E2E_VALUE": value}})
	if res.ExitCode != 0 {
		t.Fatalf("probe env: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	lines := strings.Split(res.Stdout, "\n")
	for _, want := range []string{"SEALENV_E2E_VALUE=" + value, "SEALENV_E2E_IMAGE_ENV=from-the-image"} {
		if !contains(lines, want) {
			t.Errorf("container environment lacks %q; got:\n%s", want, res.Stdout)
		}
	}

	identity := randomValue(t, 32) + "\n"
	res = e.Run(t, Run{
		Image:   name,
		Cmd:     []string{"cat", "/run/secrets/identity"},
		Secrets: map[string][]byte{"identity": []byte(identity)},
	})
	if res.ExitCode != 0 || res.Stdout != identity {
		t.Fatalf("cat /run/secrets/identity: exit %d, stdout %q, want %q", res.ExitCode, res.Stdout, identity)
	}

	// Any file, read-only; and the entrypoint replaced.
	res = e.Run(t, Run{
		Image:      name,
		Entrypoint: []string{"/probe", "cat"},
		Cmd:        []string{"/etc/app/config.json"},
		Files:      map[string][]byte{"/etc/app/config.json": []byte(`{"k":"` + value + `"}`)},
	})
	if want := `{"k":"` + value + `"}`; res.ExitCode != 0 || res.Stdout != want {
		t.Fatalf("cat /etc/app/config.json: exit %d, stdout %q, want %q", res.ExitCode, res.Stdout, want)
	}
	res = e.Run(t, Run{
		Image:   name,
		Cmd:     []string{"write", "/run/secrets/identity", "overwritten"},
		Secrets: map[string][]byte{"identity": []byte(identity)},
	})
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "read-only") {
		t.Fatalf("writing a mounted secret: exit %d, stderr %q; want a read-only file system error", res.ExitCode, res.Stderr)
	}

	// The container's own exit code, 7, and its stderr come back apart.
	res = e.Run(t, Run{Image: name, Cmd: []string{"exit", "7"}})
	if res.ExitCode != 7 {
		t.Fatalf("probe exit 7: got exit %d", res.ExitCode)
	}
	res = e.Run(t, Run{Image: name, Cmd: []string{"no-such-subcommand"}})
	if res.ExitCode != 2 || res.Stdout != "" || !strings.Contains(res.Stderr, "unknown subcommand") {
		t.Fatalf("probe no-such-subcommand: exit %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// podman stop sends SIGTERM to PID 1: a program that handles it exits at
// once with its own code; one that ignores it is killed after the grace
// period (137), which is what "not prompt" looks like to a scenario test.
func TestSmokeStop(t *testing.T) {
	e := need(t)
	name := buildProbeImage(t, e)

	t.Run("handles SIGTERM", func(t *testing.T) {
		c := e.Start(t, Run{Image: name, Cmd: []string{"wait-signal", "3"}})
		c.WaitForLog(t, "ready")
		st := c.StopOnSIGTERM(t)
		if st.ExitCode != 3 {
			t.Fatalf("exit %d after podman stop, want 3; stderr %q", st.ExitCode, st.Stderr)
		}
		if !strings.Contains(st.Stderr, "got terminated") {
			t.Errorf("stderr %q does not say SIGTERM arrived", st.Stderr)
		}
	})
	t.Run("exec and diff", func(t *testing.T) {
		c := e.Start(t, Run{Image: name, Cmd: []string{"wait-signal", "0"}})
		c.WaitForLog(t, "ready")
		// podman itself adds /etc (for hosts, hostname, resolv.conf) to a
		// scratch image; nothing else may have changed yet.
		if d := c.Diff(t); len(d) > 1 || (len(d) == 1 && d[0] != "A /etc") {
			t.Errorf("a fresh container has changes: %q", d)
		}
		if res := c.Exec(t, "/probe", "write", "/var/made-by-exec", "x"); res.ExitCode != 0 {
			t.Fatalf("exec: exit %d, stderr %q", res.ExitCode, res.Stderr)
		}
		if res := c.Exec(t, "/probe", "exit", "9"); res.ExitCode != 9 {
			t.Errorf("exec of probe exit 9: exit %d", res.ExitCode)
		}
		if d := c.Diff(t); !contains(d, "A /var/made-by-exec") {
			t.Errorf("podman diff does not show the file exec wrote: %q", d)
		}
	})
	t.Run("ignores SIGTERM", func(t *testing.T) {
		c := e.Start(t, Run{Image: name, Cmd: []string{"ignore-signals"}})
		c.WaitForLog(t, "ready")
		st := c.Stop(t, time.Second)
		if st.ExitCode != 137 {
			t.Fatalf("exit %d after podman stop of a program ignoring SIGTERM, want 137 (SIGKILL)", st.ExitCode)
		}
	})
}

// RUN steps run under runc although FROM scratch has no shell: the program
// is a static binary, in exec (JSON) form, taken from another stage, from a
// bind mount, or from a base image replaced by a named context. A secret
// reaches RUN --mount=type=secret and nothing else.
func TestSmokeRunSteps(t *testing.T) {
	e := need(t)
	probe := e.GoBuild(t, "./testdata/probe")
	base := t.TempDir()
	copyFile(t, probe, base+"/probe")
	secret := randomValue(t, 16)

	dockerfile := `FROM scratch AS tool
COPY probe /probe

# A stage with nothing in it: the probe is bind-mounted for this RUN only.
FROM scratch AS mounted
RUN --mount=type=bind,from=tool,source=/probe,target=/probe ["/probe", "write", "/out/mounted", "ran-mounted"]

# busybox cannot be pulled here: the named context replaces it with a folder.
FROM busybox:1.36
RUN ["/probe", "write", "/out/named", "ran-named"]
COPY --from=tool /probe /bin/copied-probe
RUN ["/bin/copied-probe", "write", "/out/copied", "ran-copied"]
COPY --from=mounted /out/mounted /out/mounted
RUN --mount=type=secret,id=SEALENV_E2E_SECRET ["/probe", "sha256", "/run/secrets/SEALENV_E2E_SECRET"]
ENTRYPOINT ["/probe"]
`
	img := e.Build(t, Build{
		Dockerfile: dockerfile,
		Copy:       map[string]string{"probe": probe},
		Contexts:   map[string]string{"busybox:1.36": base},
		Secrets:    map[string]string{"SEALENV_E2E_SECRET": secret},
		NoCache:    true, // the secret's RUN must run, not come from cache
	})
	sum := sha256.Sum256([]byte(secret))
	if !strings.Contains(img.Log, hex.EncodeToString(sum[:])) {
		t.Errorf("the secret's SHA-256 is not in the build log: RUN --mount=type=secret did not see it\n%s", tail(img.Log, 30))
	}
	if strings.Contains(img.Log, secret) {
		t.Errorf("the secret itself is in the build log")
	}
	a := ReadArchive(t, img.Archive)
	for name, b := range a.Files {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the secret is in the image tarball, in %s", name)
		}
	}

	name := e.Load(t, img)
	res := e.Run(t, Run{Image: name, Cmd: []string{"cat", "/out/mounted", "/out/named", "/out/copied"}})
	if want := "ran-mountedran-namedran-copied"; res.ExitCode != 0 || res.Stdout != want {
		t.Fatalf("files written by RUN: exit %d, stdout %q, want %q; stderr %q", res.ExitCode, res.Stdout, want, res.Stderr)
	}

	t.Run("shell form fails", func(t *testing.T) {
		_, err := e.TryBuild(t, Build{Dockerfile: "FROM scratch\nRUN echo hello\n"})
		if err == nil {
			t.Fatal("RUN in shell form built in a FROM scratch image, which has no /bin/sh")
		}
	})
}

// mode=max provenance records every build arg: an OCI export carries it as
// an in-toto statement, and the image history carries it as "|1 NAME=value".
// The audit must find both; here the archive reader proves they are there.
func TestSmokeProvenance(t *testing.T) {
	e := needBuildKit(t)
	probe := e.GoBuild(t, "./testdata/probe")
	dockerfile := `FROM scratch
COPY probe /probe
ARG SEALENV_E2E_ARG
RUN ["/probe", "write", "/arg-was-here", "yes"]
`
	for _, tc := range []struct {
		output, provenance, refPrefix string
		attestations                  bool
	}{
		{"oci", "max", "oci-archive:", true},
		{"docker", "max", "oci-archive:", true}, // no manifest.json once there are attestations
		{"docker", "", "docker-archive:", false},
	} {
		t.Run(tc.output+"-provenance="+tc.provenance, func(t *testing.T) {
			value := randomValue(t, 16)
			img := e.Build(t, Build{
				Dockerfile: dockerfile,
				Copy:       map[string]string{"probe": probe},
				Args:       map[string]string{"SEALENV_E2E_ARG": value},
				Provenance: tc.provenance,
				Output:     tc.output,
			})
			if !strings.HasPrefix(img.Ref, tc.refPrefix) {
				t.Errorf("Ref %q, want prefix %q", img.Ref, tc.refPrefix)
			}
			a := ReadArchive(t, img.Archive)

			cfg := a.Config(t)
			var history []string
			for _, h := range cfg.History {
				history = append(history, h.CreatedBy)
			}
			if !strings.Contains(strings.Join(history, "\n"), "|1 SEALENV_E2E_ARG="+value+" ") {
				t.Errorf("the build arg is not in the image history:\n%s", strings.Join(history, "\n"))
			}

			sts := a.Attestations(t)
			if !tc.attestations {
				if len(sts) != 0 {
					t.Fatalf("%d attestations in a build without provenance", len(sts))
				}
				return
			}
			var found bool
			for _, st := range sts {
				if !strings.HasPrefix(st.PredicateType, "https://slsa.dev/provenance/") {
					continue
				}
				if got := st.BuildArgs(t)["build-arg:SEALENV_E2E_ARG"]; got == value {
					found = true
				} else {
					t.Errorf("provenance records build-arg:SEALENV_E2E_ARG=%q, want the value passed", got)
				}
			}
			if !found {
				t.Fatalf("no SLSA provenance statement records the build arg (%d statements)", len(sts))
			}
		})
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// Base images that cannot be pulled are replaced, Dockerfile unchanged, by
// named contexts: a folder with a static busybox stands in for debian, and
// one with this machine's Go toolchain for golang. Shell form RUN works on
// both, and go runs inside the build.
func TestSmokeStandInBaseImages(t *testing.T) {
	e := need(t)
	golang := e.MakeRootfs(t, Rootfs{Shell: true, Go: true})
	debian := e.MakeRootfs(t, Rootfs{Shell: true})
	dockerfile := `FROM golang:1.26 AS build
RUN go version > /go-version && go env GOROOT >> /go-version

FROM debian:bookworm-slim
COPY --from=build /go-version /go-version
RUN echo "shell form ran as $(id -un)" > /shell
USER nobody
ENTRYPOINT ["/bin/sh", "-c", "cat /go-version /shell && id -un"]
`
	img := e.Build(t, Build{
		Dockerfile: dockerfile,
		Contexts:   map[string]string{"golang:1.26": golang, "debian:bookworm-slim": debian},
	})
	name := e.Load(t, img)
	res := e.Run(t, Run{Image: name})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	want := runtime.Version() // the toolchain running this test is the one in the stand-in
	for _, s := range []string{"go version " + want + " ", "/usr/local/go\n", "shell form ran as root\n", "nobody\n"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, res.Stdout)
		}
	}
}

// A file written by one RUN and removed by the next is still in the image:
// its layer has it, and the next layer has only a whiteout. The archive
// reader sees both, as the audit must.
func TestSmokeDeletedFileStaysInLayer(t *testing.T) {
	e := needBuildKit(t)
	probe := e.GoBuild(t, "./testdata/probe")
	value := randomValue(t, 16)
	img := e.Build(t, Build{
		Dockerfile: `FROM scratch
COPY probe /probe
RUN ["/probe", "write", "/app/leaked.txt", "` + value + `"]
RUN ["/probe", "rm", "/app/leaked.txt"]
`,
		Copy: map[string]string{"probe": probe},
	})
	a := ReadArchive(t, img.Archive)
	cfg := a.Config(t)
	if len(cfg.Layers) != 3 {
		t.Fatalf("%d layers, want 3 (COPY, RUN write, RUN rm)", len(cfg.Layers))
	}
	written := a.LayerFiles(t, cfg.Layers[1])
	if got := string(written["app/leaked.txt"]); got != value {
		t.Errorf("layer 1 has app/leaked.txt = %q, want the value written", got)
	}
	removed := a.LayerFiles(t, cfg.Layers[2])
	if _, ok := removed["app/.wh.leaked.txt"]; !ok {
		t.Errorf("layer 2 has no whiteout app/.wh.leaked.txt; files: %v", sortedKeys(removed))
	}
}

// BuildKit pushes to go-containerregistry's in-memory registry on 127.0.0.1,
// and podman pulls the image back from it and runs it: the registry path a
// docker:// audit reads.
func TestSmokeRegistry(t *testing.T) {
	e := need(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	probe := e.GoBuild(t, "./testdata/probe")
	ref := host + "/sealenv-e2e/probe:1"
	img := e.Build(t, Build{Dockerfile: probeImage, Copy: map[string]string{"probe": probe}, Push: ref})
	if img.Ref != "docker://"+ref {
		t.Errorf("Ref %q, want docker://%s", img.Ref, ref)
	}
	resp, err := http.Get(srv.URL + "/v2/sealenv-e2e/probe/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the registry answers %s for the pushed manifest", resp.Status)
	}

	e.PodmanOut(t, "pull", "--quiet", "--tls-verify=false", ref)
	res := e.Run(t, Run{Image: ref, Cmd: []string{"exit", "5"}})
	if res.ExitCode != 5 {
		t.Fatalf("the pulled image ran with exit %d, want 5; stderr %q", res.ExitCode, res.Stderr)
	}
}

// An existing context folder is used as it is: its own Dockerfile, or one
// given as text, which the harness keeps out of the folder.
func TestSmokeExistingContext(t *testing.T) {
	e := needBuildKit(t)
	probe := e.GoBuild(t, "./testdata/probe")
	ctx := t.TempDir()
	copyFile(t, probe, ctx+"/probe")
	writeFile(t, ctx+"/Dockerfile", []byte("FROM scratch\nCOPY probe /own-dockerfile\n"), 0o644)

	own := ReadArchive(t, e.Build(t, Build{Context: ctx}).Archive)
	given := ReadArchive(t, e.Build(t, Build{Context: ctx, Dockerfile: "FROM scratch\nCOPY probe /given-dockerfile\n"}).Archive)
	for _, tc := range []struct {
		a    *Archive
		want string
	}{{own, "own-dockerfile"}, {given, "given-dockerfile"}} {
		cfg := tc.a.Config(t)
		if len(cfg.Layers) != 1 {
			t.Fatalf("%d layers, want 1", len(cfg.Layers))
		}
		if _, ok := tc.a.LayerFiles(t, cfg.Layers[0])[tc.want]; !ok {
			t.Errorf("the image lacks /%s: built from the wrong Dockerfile", tc.want)
		}
	}
	b, err := os.ReadFile(ctx + "/Dockerfile")
	if err != nil || !strings.Contains(string(b), "own-dockerfile") {
		t.Errorf("the context's Dockerfile changed: %q, %v", b, err)
	}
}

// Build.Wrap runs buildctl under another command that supplies a build
// secret through the environment (as sealenv inject will): the value is in
// neither buildctl's arguments nor the image, and RUN sees it.
func TestSmokeWrappedBuildSecret(t *testing.T) {
	e := needBuildKit(t)
	probe := e.GoBuild(t, "./testdata/probe")
	value := randomValue(t, 16)
	b := Build{
		Dockerfile: `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=SEALENV_E2E_WRAPPED ["/probe", "sha256", "/run/secrets/SEALENV_E2E_WRAPPED"]
`,
		Copy:       map[string]string{"probe": probe},
		EnvSecrets: []string{"SEALENV_E2E_WRAPPED"},
		Wrap:       []string{"env"},
		WrapEnv:    []string{"SEALENV_E2E_WRAPPED=" + value},
		NoCache:    true,
	}
	args, _, _ := e.BuildctlArgs(t, b)
	if strings.Contains(strings.Join(args, " "), value) {
		t.Fatalf("the secret is in buildctl's arguments: %q", args)
	}
	img := e.Build(t, b)
	sum := sha256.Sum256([]byte(value))
	if !strings.Contains(img.Log, hex.EncodeToString(sum[:])) {
		t.Errorf("RUN did not see the secret the wrapper supplied\n%s", tail(img.Log, 20))
	}
	for name, content := range ReadArchive(t, img.Archive).Files {
		if bytes.Contains(content, []byte(value)) {
			t.Errorf("the secret is in the image tarball, in %s", name)
		}
	}
}
