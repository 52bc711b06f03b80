package audit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/audit"
)

func ExampleImage() {
	// An image whose only layer holds a sealed value in plain text.
	value := []byte(rand.Text())
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "app/config.yaml", Mode: 0o644, Size: int64(len(value) + 10), Typeflag: tar.TypeReg})
	tw.Write(append([]byte("password: "), value...))
	tw.Close()
	img, _ := mutate.AppendLayers(empty.Image, static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer))
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{}}))

	r, err := audit.Image(context.Background(), "oci:"+dir, audit.Options{
		Values: []audit.Value{{Name: "DB_PASSWORD", Value: value}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range r.Findings {
		fmt.Println(f.Kind, f.Secret, f.Where, *f.LayerIndex, f.Path, *f.Offset, f.Encoding)
	}
	fmt.Println("complete:", r.Coverage.Complete)
	// Output:
	// known-value DB_PASSWORD layer 0 app/config.yaml 10 raw
	// complete: true
}
