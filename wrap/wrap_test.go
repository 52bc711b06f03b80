package wrap_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/wrap"
)

var injectors = map[string][]byte{} // platform -> sealenv-inject binary

// TestMain builds the real slim injector for amd64 and arm64 once, both at
// once. With -short it builds amd64 only and derives the arm64 injector
// from it (see armFromAMD64): a real arm64 build compiles the standard
// library and the injector's dependencies for another architecture, most
// of this package's time on a fresh machine.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "wrap-test-*")
	if err != nil {
		panic(err)
	}
	arches := []string{"amd64", "arm64"}
	if testing.Short() {
		arches = arches[:1]
	}
	failed := make([]string, len(arches))
	var wg sync.WaitGroup
	for i, arch := range arches {
		wg.Go(func() {
			out := filepath.Join(dir, "sealenv-inject-"+arch)
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/sealenv/sealenv/cmd/sealenv-inject")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			if b, err := cmd.CombinedOutput(); err != nil {
				failed[i] = "building sealenv-inject for " + arch + ": " + string(b)
				return
			}
			failed[i] = "reading the injector for " + arch
			if data, err := os.ReadFile(out); err == nil {
				injectors["linux/"+arch], failed[i] = data, ""
			}
		})
	}
	wg.Wait()
	if msg := strings.Join(slices.DeleteFunc(failed, func(s string) bool { return s == "" }), "; "); msg != "" {
		os.RemoveAll(dir)
		panic(msg)
	}
	if testing.Short() {
		injectors["linux/arm64"] = armFromAMD64(injectors["linux/amd64"])
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// armFromAMD64 is the amd64 injector with its ELF header's machine set to
// arm64: to everything wrap reads (the header, the Go build information,
// the contract marker) an arm64 injector; it never runs. Without -short
// the tests get a real arm64 build instead.
func armFromAMD64(amd64 []byte) []byte {
	arm := bytes.Clone(amd64)
	binary.LittleEndian.PutUint16(arm[18:20], uint16(elf.EM_AARCH64)) // e_machine
	return arm
}

func appLayer(t *testing.T, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// baseImage is an image as ko or Jib would make it: one layer, an entrypoint.
func baseImage(t *testing.T, arch string, entry, cmd []string) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: appLayer(t, "app for "+arch), History: v1.History{CreatedBy: "COPY app /app"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint, cf.Config.Cmd = entry, cmd
	cf.Config.Labels = map[string]string{"org.example": "keep"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func bundle(t *testing.T, name string, keys ...string) wrap.Bundle {
	t.Helper()
	id, _ := age.GenerateX25519Identity()
	f := seal.FormatForPath(name)
	b, err := author.New(f, []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v := []byte(rand.Text())
		if err := b.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return wrap.Bundle{Name: name, Data: data}
}

func opts(bundles ...wrap.Bundle) *wrap.Options {
	o := &wrap.Options{Bundles: bundles, Version: "test"}
	for p, data := range injectors {
		o.Injectors = append(o.Injectors, wrap.Injector{Platform: p, Data: data})
	}
	return o
}

// layerFiles reads a layer into name -> (header, content).
func layerFiles(t *testing.T, l v1.Layer) map[string]struct {
	h    *tar.Header
	data []byte
} {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]struct {
		h    *tar.Header
		data []byte
	}{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = struct {
			h    *tar.Header
			data []byte
		}{h, b}
	}
}

func TestWrapSinglePlatform(t *testing.T) {
	t.Parallel()
	base := baseImage(t, runtime.GOARCH, []string{"/app", "serve"}, []string{"--port=8080"})
	b := bundle(t, "prod.env", "DATABASE_URL", "API_TOKEN")
	img, err := wrap.Image(base, opts(b))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	want := []string{wrap.InjectorPath, "--bundle", "/etc/sealenv/bundle.env", "--", "/app", "serve"}
	if strings.Join(cf.Config.Entrypoint, " ") != strings.Join(want, " ") {
		t.Errorf("entrypoint %q", cf.Config.Entrypoint)
	}
	if strings.Join(cf.Config.Cmd, " ") != "--port=8080" {
		t.Errorf("cmd %q", cf.Config.Cmd)
	}
	if cf.Config.Labels["org.example"] != "keep" || cf.Config.Labels[wrap.LabelKeys] != "DATABASE_URL,API_TOKEN" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	if !strings.HasPrefix(cf.Config.Labels[wrap.LabelBundles], "/etc/sealenv/bundle.env=sha256:") {
		t.Errorf("bundle label %q", cf.Config.Labels[wrap.LabelBundles])
	}
	layers, _ := img.Layers()
	if len(layers) != 2 {
		t.Fatalf("%d layers, want base + sealed", len(layers))
	}
	files := layerFiles(t, layers[1])
	inj := files["usr/local/bin/sealenv-inject"]
	if !bytes.Equal(inj.data, injectors["linux/"+runtime.GOARCH]) || inj.h.Mode != 0o755 || inj.h.Uid != 0 || inj.h.ModTime.Unix() != 0 {
		t.Errorf("injector entry: mode %o uid %d time %v", inj.h.Mode, inj.h.Uid, inj.h.ModTime)
	}
	if got := files["etc/sealenv/bundle.env"]; !bytes.Equal(got.data, b.Data) {
		t.Error("bundle in the layer differs from the sealed bundle")
	}
	for name, f := range files {
		if !f.h.ModTime.Equal(files["usr/local/bin/sealenv-inject"].h.ModTime) {
			t.Errorf("%s has another mtime", name)
		}
	}
	if cf.History[len(cf.History)-1].CreatedBy != "sealenv wrap" {
		t.Errorf("history %v", cf.History)
	}
}

func TestWrapIsReproducibleAndReplacesItself(t *testing.T) {
	t.Parallel()
	base := baseImage(t, runtime.GOARCH, []string{"/app"}, nil)
	b := bundle(t, "prod.yaml", "K")
	one, err := wrap.Image(base, opts(b))
	if err != nil {
		t.Fatal(err)
	}
	two, err := wrap.Image(base, opts(b))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := one.Digest()
	d2, _ := two.Digest()
	if d1 != d2 {
		t.Fatalf("same inputs, different digests %s %s", d1, d2)
	}
	// Wrapping the wrapped image with the same inputs gives the same image:
	// the old sealed layer is replaced, not stacked.
	again, err := wrap.Image(one, opts(b))
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := again.Digest(); d3 != d1 {
		cf, _ := again.ConfigFile()
		t.Fatalf("re-wrap changed the image: %s vs %s (entrypoint %q)", d3, d1, cf.Config.Entrypoint)
	}
	// With another bundle it still has one sealed layer and one injector.
	other, err := wrap.Image(one, opts(bundle(t, "other.env", "X")))
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := other.Layers()
	cf, _ := other.ConfigFile()
	if len(layers) != 2 || strings.Count(strings.Join(cf.Config.Entrypoint, " "), wrap.InjectorPath) != 1 {
		t.Fatalf("re-wrap stacked: %d layers, entrypoint %q", len(layers), cf.Config.Entrypoint)
	}
}

func TestWrapMultiPlatform(t *testing.T) {
	t.Parallel()
	amd, arm := baseImage(t, "amd64", []string{"/app"}, nil), baseImage(t, "arm64", []string{"/app"}, nil)
	att, _ := mutate.Append(empty.Image, mutate.Addendum{Layer: appLayer(t, "{}")})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}},
	)
	out, dropped, err := wrap.Index(idx, opts(bundle(t, "prod.env", "K")))
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 1 {
		t.Errorf("dropped %d attestation manifests, want 1", dropped)
	}
	im, _ := out.IndexManifest()
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		img, _ := out.Image(d.Digest)
		layers, _ := img.Layers()
		got := layerFiles(t, layers[len(layers)-1])["usr/local/bin/sealenv-inject"].data
		p, err := wrap.ELFPlatform(got)
		if err != nil || p != "linux/"+d.Platform.Architecture {
			t.Errorf("%s got an injector for %s (%v)", d.Platform.Architecture, p, err)
		}
	}
	// A platform without an injector is an error, never a skip.
	o := opts(bundle(t, "prod.env", "K"))
	o.Injectors = o.Injectors[:0]
	o.Injectors = append(o.Injectors, wrap.Injector{Platform: "linux/amd64", Data: injectors["linux/amd64"]})
	if _, _, err := wrap.Index(idx, o); !errors.Is(err, wrap.ErrNoInjector) || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("missing arm64 injector: %v", err)
	}
}

func TestWrapOnlyKeys(t *testing.T) {
	t.Parallel()
	o := opts(bundle(t, "prod.env", "DATABASE_URL", "API_TOKEN", "ADMIN_TOKEN"))
	o.Only = []string{"DATABASE_URL", "API_TOKEN"}
	img, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	want := wrap.InjectorPath + " --bundle /etc/sealenv/bundle.env --only DATABASE_URL --only API_TOKEN -- /app"
	if got := strings.Join(cf.Config.Entrypoint, " "); got != want {
		t.Errorf("entrypoint %q, want %q", got, want)
	}
	if cf.Config.Labels[wrap.LabelOnly] != "DATABASE_URL,API_TOKEN" {
		t.Errorf("only label %q", cf.Config.Labels[wrap.LabelOnly])
	}
	o.Only = []string{"NOT_IN_THE_BUNDLE"}
	if _, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), o); !errors.Is(err, wrap.ErrInvalidBundle) {
		t.Errorf("unknown --only key: %v", err)
	}
}

func TestWrapBadInput(t *testing.T) {
	t.Parallel()
	good := bundle(t, "prod.env", "K")
	// The same key in two bundles would stop every start; refuse it now.
	if _, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), opts(good, bundle(t, "other.env", "K"))); !errors.Is(err, wrap.ErrInvalidBundle) {
		t.Errorf("duplicate key across bundles: %v", err)
	}
	// An image built FROM a wrapped one is refused instead of getting a second injector.
	wrapped, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), opts(good))
	if err != nil {
		t.Fatal(err)
	}
	derived, err := mutate.Append(wrapped, mutate.Addendum{Layer: appLayer(t, "more")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrap.Image(derived, opts(good)); !errors.Is(err, wrap.ErrUnsupported) {
		t.Errorf("built FROM a wrapped image: %v", err)
	}
	if _, err := wrap.Image(baseImage(t, runtime.GOARCH, nil, nil), opts(good)); !errors.Is(err, wrap.ErrNoCommand) {
		t.Errorf("no entrypoint or cmd: %v", err)
	}
	wrong := &wrap.Options{Bundles: []wrap.Bundle{good}, Injectors: []wrap.Injector{{Platform: "linux/arm64", Data: injectors["linux/amd64"]}}}
	if _, err := wrap.Image(baseImage(t, "arm64", []string{"/app"}, nil), wrong); !errors.Is(err, wrap.ErrWrongArch) {
		t.Errorf("wrong-arch injector: %v", err)
	}
	for _, bad := range []wrap.Bundle{{Name: "p.env", Data: []byte("K=plaintext\n")}, {Name: "p.env", Data: good.Data[:len(good.Data)/3]}} {
		if _, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), opts(bad)); !errors.Is(err, wrap.ErrInvalidBundle) {
			t.Errorf("bad bundle: %v", err)
		}
	}
}

func TestTransportsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	base := baseImage(t, runtime.GOARCH, []string{"/app"}, nil)
	tag, _ := name.NewTag("example/app:1")
	src := filepath.Join(dir, "app.tar")
	if err := tarball.WriteToFile(src, tag, base); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"docker-archive:" + src, src} {
		s, err := imageref.Open(ctx, mustParse(t, in), imageref.Options{})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if s.Image == nil {
			t.Fatalf("%s: no image", in)
		}
		s.Close()
	}
	s, _ := imageref.Open(ctx, mustParse(t, "docker-archive:"+src), imageref.Options{})
	img, err := wrap.Image(s.Image, opts(bundle(t, "prod.env", "K")))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	dests := []string{"oci:" + filepath.Join(dir, "layout"), "oci-archive:" + filepath.Join(dir, "img.oci.tar"),
		"docker-archive:" + filepath.Join(dir, "wrapped.tar"), "docker://" + u.Host + "/app:wrapped"}
	for _, d := range dests {
		if err := imageref.Write(ctx, mustParse(t, d), img, nil, false, imageref.Options{}); err != nil {
			t.Fatalf("write %s: %v", d, err)
		}
		back, err := imageref.Open(ctx, mustParse(t, d), imageref.Options{})
		if err != nil {
			t.Fatalf("read back %s: %v", d, err)
		}
		if got, _ := back.Image.Digest(); got != want && !strings.HasPrefix(d, "docker-archive:") {
			t.Errorf("%s: digest %s, want %s", d, got, want)
		}
		cf, _ := back.Image.ConfigFile()
		if cf.Config.Entrypoint[0] != wrap.InjectorPath {
			t.Errorf("%s: entrypoint %q", d, cf.Config.Entrypoint)
		}
		back.Close()
		// An existing destination is refused without --force, and left as it was.
		if !strings.HasPrefix(d, "docker://") {
			if err := imageref.Write(ctx, mustParse(t, d), img, nil, false, imageref.Options{}); !errors.Is(err, imageref.ErrDestinationUsed) {
				t.Errorf("%s written twice: %v", d, err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func mustParse(t *testing.T, s string) imageref.Ref {
	t.Helper()
	r, err := imageref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
