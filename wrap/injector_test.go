package wrap_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/version"
	"github.com/sealenv/sealenv/wrap"
)

// TestCheckInjector: a real sealenv-inject passes for both architectures
// (with -short, amd64 and its arm64 twin);
// /bin/ls, another Go program, and injectors with another or no wrap
// contract are refused with the reason.
func TestCheckInjector(t *testing.T) {
	t.Parallel()
	for p, data := range injectors {
		in, err := wrap.CheckInjector(data)
		if err != nil {
			t.Fatalf("the real injector for %s: %v", p, err)
		}
		if in.Platform != p || in.Contract != version.Contract || in.Package != "github.com/sealenv/sealenv/cmd/sealenv-inject" {
			t.Errorf("%s: %+v", p, in)
		}
	}
	// The arm64 injector of -short (armFromAMD64) reads as the real build
	// does.
	if twin, err := wrap.CheckInjector(armFromAMD64(injectors["linux/amd64"])); err != nil {
		t.Errorf("the arm64 twin of the amd64 injector: %v", err)
	} else if arm, _ := wrap.CheckInjector(injectors["linux/arm64"]); twin != arm {
		t.Errorf("the arm64 twin reads as %+v, the arm64 build as %+v", twin, arm)
	}
	real := injectors["linux/amd64"]
	marker := []byte("sealenv-inject-contract: 3\n")
	if bytes.Count(real, marker) != 1 {
		t.Fatalf("the injector carries the contract marker %d times, want 1", bytes.Count(real, marker))
	}
	ls, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip("no /bin/ls")
	}
	app := filepath.Join(t.TempDir(), "app")
	build := exec.Command("go", "build", "-trimpath", "-o", app, "github.com/sealenv/sealenv/examples/app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/app: %s", out)
	}
	goApp, _ := os.ReadFile(app)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"/bin/ls":         {ls, "not a Go program"},
		"a text file":     {[]byte("#!/bin/sh\nexec /app\n"), "not an ELF executable"},
		"another Go main": {goApp, `names the main package "github.com/sealenv/sealenv/examples/app"`},
		"another contract": {bytes.Replace(real, marker, []byte("sealenv-inject-contract: 7\n"), 1),
			"wrap contract 7, this sealenv writes entrypoints for contract 3"},
		"no contract": {bytes.Replace(real, marker, []byte("sealenv-inject-contraxt: 2\n"), 1), "carries no wrap contract"},
	} {
		_, err := wrap.CheckInjector(tc.data)
		if !errors.Is(err, wrap.ErrNotInjector) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrNotInjector saying %q", name, err, tc.want)
		}
	}

	// wrap refuses them unless told to accept any injector.
	o := opts(bundle(t, "prod.env", "K"))
	o.Injectors = []wrap.Injector{{Platform: "linux/amd64", Data: goApp}}
	base := baseImage(t, "amd64", []string{"/app"}, nil)
	if _, err := wrap.Image(base, o); !errors.Is(err, wrap.ErrNotInjector) {
		t.Fatalf("wrap with another Go program as the injector: %v", err)
	}
	o.AnyInjector = true
	if _, err := wrap.Image(base, o); err != nil {
		t.Fatalf("wrap with AnyInjector: %v", err)
	}
}

// injectorImage is an image as Dockerfile.inject makes it: FROM scratch, one
// layer with the injector at its stable path.
func injectorImage(t *testing.T, arch string, files map[string][]byte) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir})
	}
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: l})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestInjectorsFromImage reads the injector of each platform of an injector
// image (an OCI layout, as `sealenv wrap --injector-image oci:DIR` does),
// skipping the attestation manifest, and honours whiteouts.
func TestInjectorsFromImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	amd := injectorImage(t, "amd64", map[string][]byte{"usr/local/bin/sealenv-inject": injectors["linux/amd64"]})
	arm := injectorImage(t, "arm64", map[string][]byte{"usr/local/bin/sealenv-inject": injectors["linux/arm64"]})
	att, _ := mutate.Append(empty.Image, mutate.Addendum{Layer: appLayer(t, "{}")})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}},
	)
	dir := filepath.Join(t.TempDir(), "inject")
	// As BuildKit's oci exporter writes it: index.json names one nested index.
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	ref, err := imageref.Parse("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := imageref.Open(ctx, ref, imageref.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	injs, err := wrap.InjectorsFromImage(s.Image, s.Index)
	if err != nil {
		t.Fatal(err)
	}
	if len(injs) != 2 {
		t.Fatalf("%d injectors, want 2 (the attestation is skipped)", len(injs))
	}
	for _, inj := range injs {
		want := injectors[strings.TrimSuffix(inj.Platform, "/v8")]
		if !bytes.Equal(inj.Data, want) {
			t.Errorf("%s: not the injector of that platform", inj.Platform)
		}
	}
	// Wrapping a two-platform app index with them works.
	app := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "amd64", []string{"/app"}, nil), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: baseImage(t, "arm64", []string{"/app"}, nil), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	o := opts(bundle(t, "prod.env", "K"))
	o.Injectors = injs
	if _, _, err := wrap.Index(app, o); err != nil {
		t.Fatalf("wrapping with the image's injectors: %v", err)
	}

	// A single image, with a later layer that deletes the injector.
	deleted, err := mutate.Append(amd, mutate.Addendum{Layer: func() v1.Layer {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "usr/local/bin/.wh.sealenv-inject", Typeflag: tar.TypeReg})
		tw.Close()
		data := buf.Bytes()
		l, _ := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		return l
	}()})
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string]v1.Image{
		"deleted": deleted,
		"missing": injectorImage(t, runtime.GOARCH, map[string][]byte{"usr/local/bin/other": []byte("x")}),
	} {
		_, err := wrap.InjectorsFromImage(img, nil)
		if !errors.Is(err, wrap.ErrNoInjector) {
			t.Errorf("%s: %v, want ErrNoInjector", name, err)
		}
	}
	// An opaque directory in the same layer as a new injector keeps the new one.
	fresh := injectorImage(t, "amd64", map[string][]byte{"usr/local/bin/.wh..wh..opq": nil, "usr/local/bin/sealenv-inject": injectors["linux/amd64"]})
	replaced, _ := mutate.Append(arm, mutate.Addendum{Layer: func() v1.Layer { l, _ := fresh.Layers(); return l[0] }()})
	got, err := wrap.InjectorsFromImage(replaced, nil)
	if err != nil || !bytes.Equal(got[0].Data, injectors["linux/amd64"]) {
		t.Errorf("opaque directory with a new injector: %v", err)
	}
}
