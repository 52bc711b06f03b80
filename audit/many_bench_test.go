package audit

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// BenchmarkRefs audits four OCI layouts in one run: each has a gzip layer
// of the Go tree's src/net in common and one of its own (src/crypto,
// src/encoding, src/go, src/text/template).
func BenchmarkRefs(b *testing.B) {
	layer := func(sub string) v1.Layer { return tarLayer(b, "gzip", goTreeFiles(b, sub)...) }
	base := layer("src/net")
	var srcs []string
	for _, sub := range []string{"src/crypto", "src/encoding", "src/go", "src/text/template"} {
		img := image(b, v1.Config{}, nil, base, layer(sub))
		dir := b.TempDir()
		if _, err := layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, "oci:"+dir)
	}
	rs := refs(b, srcs...)
	values := []Value{{Name: "V", Value: []byte(randString(b, alnum, 24))}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Refs(context.Background(), rs, Options{Values: values})
		if err != nil || !r.Coverage.Complete || r.Coverage.ReusedLayers != 3 {
			b.Fatal(err, r.Coverage)
		}
	}
}
