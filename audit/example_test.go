package audit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
)

// sealedValueImage is an image whose only layer holds value in plain text.
func sealedValueImage(value []byte) v1.Image {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "app/config.yaml", Mode: 0o644, Size: int64(len(value) + 10), Typeflag: tar.TypeReg})
	tw.Write(append([]byte("password: "), value...))
	tw.Close()
	img, _ := mutate.AppendLayers(empty.Image, static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer))
	return img
}

func ExampleImage() {
	value := []byte(rand.Text())
	r, err := audit.Image(context.Background(), sealedValueImage(value), audit.Options{
		Values: []audit.Value{{Name: "DB_PASSWORD", Value: value}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range r.Findings {
		fmt.Println(f.Kind, f.Secret, f.Where, *f.LayerIndex, f.Path, f.Part, *f.Offset, f.Encoding)
	}
	fmt.Println("complete:", r.Coverage.Complete)
	// Output:
	// known-value DB_PASSWORD layer 0 app/config.yaml data 10 raw
	// complete: true
}

func ExampleRef() {
	value := []byte(rand.Text())
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: sealedValueImage(value)}))

	ref, _ := imageref.Parse("oci:" + dir)
	r, err := audit.Ref(context.Background(), ref, audit.Options{
		Values: []audit.Value{{Name: "DB_PASSWORD", Value: value}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(r.Findings), r.Findings[0].Path, r.Clean())
	// Output:
	// 1 app/config.yaml false
}

func ExampleFiles() {
	value := []byte(rand.Text())
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "settings.py")
	os.WriteFile(p, []byte("DEBUG = False\nPASSWORD = '"+string(value)+"'\n"), 0o600)

	r, err := audit.Files(context.Background(), []audit.File{{
		Path: "settings.py",
		Open: func() (io.ReadCloser, error) { return os.Open(p) },
	}}, audit.Options{Values: []audit.Value{{Name: "DB_PASSWORD", Value: value}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range r.Findings {
		fmt.Println(f.Secret, f.Where, f.Path, f.Line)
	}
	// Output:
	// DB_PASSWORD file settings.py 2
}
