package e2e

// The injector image (issue 14): Dockerfile.inject built from the repository
// with BuildKit for three platforms, checked file by file, rebuilt for the
// same digest, and used by Dockerfile.example through a named context.

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The build arguments of the e2e injector image: what a release passes, with
// a version of its own.
const (
	injVersion = "v0.0.0-e2e"
	injCommit  = "0123456789abcdef0123456789abcdef01234567"
	injDate    = "2026-01-02T03:04:05Z"
	injEpoch   = "1767323045" // injDate in Unix seconds
)

// injPlatforms are the platforms the injector image is built for: this
// machine's, which is all Dockerfile.example's builds need; every released
// platform, and a second build without the cache that must give the same
// digest, with SEALENV_E2E_RELEASE=1 (.ci/run runs that after the README's
// test command: it cross-compiles three injectors twice inside BuildKit).
func injPlatforms() []string {
	if releaseChecks() {
		return []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	}
	return []string{"linux/" + runtime.GOARCH}
}

func releaseChecks() bool { return os.Getenv("SEALENV_E2E_RELEASE") == "1" }

// InjectorImage is Dockerfile.inject's image as an OCI tarball and the OCI
// layout unpacked from it.
type InjectorImage struct {
	Image
	Layout string // the unpacked OCI layout
	Digest string // the digest of its (multi-platform) index
}

var (
	injImageMu sync.Mutex
	theInjImg  *InjectorImage
)

// injectorImageBuild is the Build of Dockerfile.inject from the repository
// for every platform, with SOURCE_DATE_EPOCH and rewrite-timestamp as a
// release builds it. The golang image is the Go stand-in (with a shell: the
// RUN step is in shell form, as on the real golang image).
func injectorImageBuild(t *testing.T, e *Env) Build {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goImage := dockerfileArg(t, filepath.Join(repo, "Dockerfile.inject"), "GO_IMAGE")
	return Build{
		Context: repo,
		Opts:    []string{"filename=Dockerfile.inject", "platform=" + strings.Join(injPlatforms(), ",")},
		Args: map[string]string{
			"VERSION": injVersion, "COMMIT": injCommit, "DATE": injDate, "SOURCE_DATE_EPOCH": injEpoch,
		},
		Contexts: map[string]string{goImage: e.MakeRootfs(t, Rootfs{Shell: true, Go: true})},
		Output:   "oci",
		Export:   []string{"rewrite-timestamp=true"},
		Name:     "localhost/sealenv-e2e/sealenv-inject:" + injVersion,
	}
}

// injectorImage builds Dockerfile.inject once per run.
func injectorImage(t *testing.T, e *Env) *InjectorImage {
	t.Helper()
	injImageMu.Lock()
	defer injImageMu.Unlock()
	if theInjImg != nil {
		return theInjImg
	}
	img := e.Build(t, injectorImageBuild(t, e))
	layout, err := os.MkdirTemp(e.Dir, "inject-layout-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", img.Archive, "-C", layout).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v: %s", img.Archive, err, out)
	}
	theInjImg = &InjectorImage{Image: img, Layout: layout, Digest: topDigest(t, ReadArchive(t, img.Archive))}
	return theInjImg
}

// topDigest is the digest of the one manifest or index index.json names.
func topDigest(t *testing.T, a *Archive) string {
	t.Helper()
	var idx index
	a.decode(t, a.Files["index.json"], &idx, "index.json")
	if len(idx.Manifests) != 1 {
		t.Fatalf("%s: index.json names %d manifests, want 1", a.Path, len(idx.Manifests))
	}
	return idx.Manifests[0].Digest
}

// dockerfileArg returns the default of a global ARG in a Dockerfile.
func dockerfileArg(t *testing.T, path, name string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ARG ` + name + `=(\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no ARG %s=DEFAULT", path, name)
	}
	return string(m[1])
}

// injectorRef is the image Dockerfile.example copies the injector from.
func injectorRef(t *testing.T, dockerfile []byte) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^COPY --from=(ghcr\.io/sealenv/sealenv-inject:\S+) /usr/local/bin/sealenv-inject /usr/local/bin/sealenv-inject$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("Dockerfile.example has no COPY --from=ghcr.io/sealenv/sealenv-inject:VERSION /usr/local/bin/sealenv-inject /usr/local/bin/sealenv-inject")
	}
	return string(m[1])
}

// injectorContext makes a Build take ref from the e2e injector image, as
// `docker buildx build --build-context REF=oci-layout://DIR` does.
func injectorContext(t *testing.T, e *Env, b *Build, ref string) {
	t.Helper()
	ii := injectorImage(t, e)
	if b.Contexts == nil {
		b.Contexts = map[string]string{}
	}
	if b.OCILayouts == nil {
		b.OCILayouts = map[string]string{}
	}
	b.OCILayouts["sealenv-inject"] = ii.Layout
	b.Contexts[ref] = "oci-layout://sealenv-inject@" + ii.Digest
}

// TestInjectorImage: Dockerfile.inject gives an index of three platform
// images, each FROM scratch with one layer that holds the static injector of
// its architecture at /usr/local/bin/sealenv-inject and nothing else, the
// OCI labels, and the version it was given; the binary of this machine's
// platform is byte for byte what `go build` with the release flags makes on
// the host (the binary of the release archives); and a rebuild without the
// build cache gives the same digest. Without SEALENV_E2E_RELEASE=1 only this
// machine's platform is built, once.
func TestInjectorImage(t *testing.T) {
	e := needBuildKit(t)
	ii := injectorImage(t, e)
	a := ReadArchive(t, ii.Archive)
	seen := map[string]bool{}
	host := "linux/" + runtime.GOARCH
	var native []byte
	for _, d := range a.manifests(t) {
		if isAttestation(d) || d.Platform == nil {
			t.Errorf("unexpected manifest %s (%v)", d.Digest, d.Annotations)
			continue
		}
		p := d.Platform.OS + "/" + d.Platform.Architecture
		if d.Platform.Variant != "" {
			p += "/" + d.Platform.Variant
		}
		seen[p] = true
		var m manifest
		a.decode(t, a.Blob(t, d.Digest), &m, "manifest")
		var cfg ImageConfig
		a.decode(t, a.Blob(t, m.Config.Digest), &cfg, "config")
		if len(m.Layers) != 1 {
			t.Errorf("%s: %d layers, want 1", p, len(m.Layers))
			continue
		}
		files := a.LayerFiles(t, m.Layers[0])
		var names []string
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		if strings.Join(names, " ") != "usr/local/bin/sealenv-inject" {
			t.Errorf("%s: the layer holds %v, want only usr/local/bin/sealenv-inject", p, names)
		}
		bin := files["usr/local/bin/sealenv-inject"]
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Errorf("%s: the injector is not ELF: %v", p, err)
			continue
		}
		want := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64, "linux/arm/v7": elf.EM_ARM}[p]
		if f.Machine != want {
			t.Errorf("%s: the injector is built for %v", p, f.Machine)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s: the injector is dynamically linked", p)
			}
		}
		if !bytes.Contains(bin, []byte(injVersion)) || !bytes.Contains(bin, []byte("sealenv-inject-contract: 3\n")) {
			t.Errorf("%s: the injector lacks the version or the wrap contract", p)
		}
		for k, v := range map[string]string{
			"org.opencontainers.image.version":  injVersion,
			"org.opencontainers.image.revision": injCommit,
			"org.opencontainers.image.created":  injDate,
			"org.opencontainers.image.source":   "https://github.com/sealenv/sealenv",
			"org.opencontainers.image.title":    "sealenv-inject",
		} {
			if got := cfg.Config.Labels[k]; got != v {
				t.Errorf("%s: label %s = %q, want %q", p, k, got, v)
			}
		}
		if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/sealenv-inject" {
			t.Errorf("%s: entrypoint %q", p, cfg.Config.Entrypoint)
		}
		if p == host {
			native = bin
		}
	}
	for _, p := range injPlatforms() {
		if !seen[p] {
			t.Errorf("no image for %s (have %v)", p, seen)
		}
	}
	if t.Failed() {
		return
	}

	// The injector of this machine's platform runs and says the version it
	// was given, and it is the binary a host build with the release flags
	// makes.
	if native == nil {
		t.Fatalf("no injector for this machine's platform %s", host)
	}
	dir := t.TempDir()
	fromImage := filepath.Join(dir, "from-image")
	writeFile(t, fromImage, native, 0o755)
	out, err := exec.Command(fromImage, "--version").Output()
	if err != nil || string(out) != "sealenv-inject "+injVersion+"\nsealenv-inject-contract: 3\n" {
		t.Errorf("sealenv-inject --version from the image: %q (%v)", out, err)
	}
	const p = "github.com/sealenv/sealenv/internal/version."
	hostOut := filepath.Join(dir, "host")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -X "+p+"version="+injVersion+" -X "+p+"commit="+injCommit+" -X "+p+"date="+injDate,
		"-o", hostOut, "./cmd/sealenv-inject")
	build.Dir = ".."
	build.Env = append(withoutEnv(os.Environ(), "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOFLAGS"), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("host build of the injector: %v: %s", err, b)
	}
	hostBin, err := os.ReadFile(hostOut)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(hostBin) != sha256.Sum256(native) {
		t.Errorf("the image's %s injector (sha256 %s) differs from a host build with the same flags (sha256 %s)", host, sum(native), sum(hostBin))
	}

	// The same inputs give the same digest, also when every step runs again
	// (a release check: it cross-compiles every injector once more).
	if !releaseChecks() {
		t.Logf("injector image index digest %s; set SEALENV_E2E_RELEASE=1 for every platform and the rebuild", ii.Digest)
		return
	}
	b := injectorImageBuild(t, e)
	b.NoCache = true
	b.Name = "localhost/sealenv-e2e/sealenv-inject:again"
	again := e.Build(t, b)
	if d := topDigest(t, ReadArchive(t, again.Archive)); d != ii.Digest {
		t.Errorf("rebuilt without cache: index digest %s, first build %s", d, ii.Digest)
	}
	t.Logf("injector image index digest %s (reproduced)", ii.Digest)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// TestInjectorImageWrap: sealenv wrap --injector-image takes the injector of
// the app's platform from the injector image (an oci-archive here, as
// docker://ghcr.io/sealenv/sealenv-inject:VERSION would be).
func TestInjectorImageWrap(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	ii := injectorImage(t, e)
	app := e.Build(t, Build{
		Dockerfile: "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n",
		Copy:       map[string]string{"app": e.GoBuild(t, "../examples/app")},
	})
	dest := filepath.Join(t.TempDir(), "wrapped")
	res := f.Run(t, f.Dir, nil, nil, "wrap", app.Ref, "oci:"+dest, "--bundle", f.Bundle, "--injector-image", "oci-archive:"+ii.Archive)
	if res.Code != 0 {
		t.Fatalf("sealenv wrap --injector-image: exit %d: %s", res.Code, res.Stderr)
	}
	// The wrapped image's injector label is the digest of the injector of
	// the app's platform (this machine's) in the injector image.
	var idx index
	data, err := os.ReadFile(filepath.Join(dest, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("wrapped layout index.json: %v", err)
	}
	blob := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(dest, "blobs", strings.Replace(d, ":", "/", 1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var m manifest
	if err := json.Unmarshal(blob(idx.Manifests[0].Digest), &m); err != nil {
		t.Fatal(err)
	}
	var cfg ImageConfig
	if err := json.Unmarshal(blob(m.Config.Digest), &cfg); err != nil {
		t.Fatal(err)
	}
	a := ReadArchive(t, ii.Archive)
	var want string
	for _, d := range a.manifests(t) {
		if d.Platform != nil && d.Platform.Architecture == runtime.GOARCH {
			var im manifest
			a.decode(t, a.Blob(t, d.Digest), &im, "manifest")
			want = "sha256:" + hex.EncodeToString(func() []byte {
				s := sha256.Sum256(a.LayerFiles(t, im.Layers[0])["usr/local/bin/sealenv-inject"])
				return s[:]
			}())
		}
	}
	if got := cfg.Config.Labels["io.sealenv.wrap.injector"]; got == "" || got != want {
		t.Errorf("io.sealenv.wrap.injector = %q, want the injector of the image %q", got, want)
	}
}
