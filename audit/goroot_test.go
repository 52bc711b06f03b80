package audit

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// goTreeLayer writes the Go toolchain tree (or its subdirectory sub) as an
// uncompressed layer file: a large body of real third-party files.
func goTreeLayer(t testing.TB, dir, sub string) v1.Layer {
	root := goroot(t)
	p := filepath.Join(dir, "goroot.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(filepath.Join(root, sub), func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		h.Name = "usr/local/go/" + filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	f.Close()
	l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// goTreeFiles returns the files of the Go tree's subdirectory sub, its
// testdata directories left out, named by their path in the tree.
func goTreeFiles(t testing.TB, sub string) []file {
	root := goroot(t)
	var files []file
	err := filepath.Walk(filepath.Join(root, sub), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Name() == "testdata" {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files = append(files, file{strings.TrimPrefix(p, root+"/"), data})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The Go toolchain tree alone gives no finding at the default severity,
// and secrets planted among its files are all found.
func TestGoTree(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole Go toolchain tree (TestGoTreeCrypto is its -short twin)")
	}
	t.Parallel()
	goTree(t, "")
}

// TestGoTreeCrypto is the lighter twin of TestGoTree, run also with
// -short: the same assertions on src/crypto, the part of the Go tree with
// the most key material (test keys, certificates), a sixteenth of its
// bytes.
func TestGoTreeCrypto(t *testing.T) {
	t.Parallel()
	goTree(t, "src/crypto")
}

// goTree audits the Go tree's subdirectory sub ("" for all of it) alone
// and under the planted layers.
func goTree(t *testing.T, sub string) {
	tmp := t.TempDir()
	base := goTreeLayer(t, tmp, sub)
	p := plant(t)
	ls, _ := p.img.Layers()

	clean := image(t, v1.Config{}, nil, base)
	dir := filepath.Join(tmp, "clean")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	lp.AppendImage(clean)
	r, err := imageAt(context.Background(), "oci:"+dir, Options{Values: p.values, ShortAccepted: p.short})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Coverage.Complete || len(r.Findings) != 0 {
		t.Fatalf("Go tree: %d findings: %s", len(r.Findings), dump(t, r))
	}
	t.Logf("Go tree: %d files, %d bytes, %d notes, %d published secrets skipped", r.Coverage.Files, r.Coverage.Bytes, len(r.Coverage.Notes), r.Coverage.PublicSkipped)

	// The planted layers on top of the Go tree.
	dirty := image(t, v1.Config{}, nil, append([]v1.Layer{base}, ls...)...)
	dir = filepath.Join(tmp, "dirty")
	if lp, err = layout.Write(dir, empty.Index); err != nil {
		t.Fatal(err)
	}
	lp.AppendImage(dirty)
	os.Remove(filepath.Join(tmp, "goroot.tar"))
	r, err = imageAt(context.Background(), "oci:"+dir, Options{Values: p.values, ShortAccepted: p.short})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range layerWants {
		if !has(r, w) {
			t.Errorf("missing %+v", w)
		}
	}
	for _, f := range r.Findings {
		if *f.LayerIndex == 0 {
			t.Errorf("finding in the Go tree: %+v", f)
		}
		if strings.HasPrefix(f.Path, "usr/local/go") {
			t.Errorf("finding in the Go tree: %+v", f)
		}
	}
}

var _ = mutate.Append
