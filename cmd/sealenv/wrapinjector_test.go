package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestWrapInjectorChecks: wrap --injector takes only a sealenv injector
// (issue 13): /bin/ls is refused with exit 2 and nothing written, unless
// --allow-any-injector; a real injector is accepted, from a file or from an
// injector image (--injector-image).
func TestWrapInjectorChecks(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("", "seal", "-r", r, "-o", "prod.env")
	c.ok(secret(t, "v"), "set", "prod.env", "API_TOKEN")
	inj := c.path("sealenv-inject")
	build := exec.Command("go", "build", "-trimpath", "-o", inj, "github.com/sealenv/sealenv/cmd/sealenv-inject")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the injector: %s", out)
	}
	tool := exec.Command("go", "run", "github.com/sealenv/sealenv/examples/imagetool", "build", inj, c.path("app.tar"), "/app")
	if out, err := tool.CombinedOutput(); err != nil {
		t.Fatalf("building the image: %s", out)
	}
	src := "docker-archive:" + c.path("app.tar")

	res := c.fails("not a sealenv injector", "", "wrap", src, "oci:"+c.path("ls-out"), "--bundle", "prod.env", "--injector", ls)
	if !strings.Contains(res.stderr, "--injector: "+ls) || !strings.Contains(res.stderr, "--allow-any-injector") {
		t.Errorf("stderr %q: want the flag, the file and the way out", res.stderr)
	}
	if _, err := os.Stat(c.path("ls-out")); err == nil {
		t.Error("written despite the refused injector")
	}
	c.ok("", "wrap", src, "oci:"+c.path("any-out"), "--bundle", "prod.env", "--injector", ls, "--allow-any-injector")
	c.ok("", "wrap", src, "oci:"+c.path("file-out"), "--bundle", "prod.env", "--injector", inj)

	// The injector image: the wrapped app image itself holds the injector at
	// the stable path, so it stands in for ghcr.io/sealenv/sealenv-inject.
	c.ok("", "wrap", src, "oci:"+c.path("image-out"), "--bundle", "prod.env", "--injector-image", "oci:"+c.path("file-out"))
	fromFile, fromImage := configDigest(t, c.path("file-out")), configDigest(t, c.path("image-out"))
	if fromFile != fromImage {
		t.Errorf("wrapping with the injector from the image gave config %s, from the file %s", fromImage, fromFile)
	}
	// An image without an injector, and both flags at once, are refused.
	c.fails("has no /usr/local/bin/sealenv-inject", "", "wrap", src, "oci:"+c.path("none-out"), "--bundle", "prod.env", "--injector-image", src)
	c.fails("exclude each other", "", "wrap", src, "oci:"+c.path("both-out"), "--bundle", "prod.env", "--injector-image", "oci:"+c.path("file-out"), "--injector", inj)
	for _, d := range []string{"none-out", "both-out"} {
		if _, err := os.Stat(c.path(d)); err == nil {
			t.Errorf("%s written despite the error", d)
		}
	}
}

func configDigest(t *testing.T, dir string) string {
	t.Helper()
	d, err := layoutImage(t, dir).ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// layoutImage opens the one image of OCI layout dir.
func layoutImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(filepath.Clean(dir))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("%s: want one image: %v", dir, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
