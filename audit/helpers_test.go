package audit

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/sealenv/sealenv/imageref"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randString returns n random characters of set, made at test time: no
// secret is ever committed.
func randString(t testing.TB, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = set[k.Int64()]
	}
	return string(b)
}

type file struct {
	name string
	data []byte
}

func tarBytes(t testing.TB, files ...file) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.EncodeAll(b, nil)
}

// zipBytes writes a zip as jar tools do: deflated entries with data
// descriptors.
func zipBytes(t testing.TB, files ...file) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	zw.Close()
	return buf.Bytes()
}

// layer makes a layer whose blob is exactly b, with the media type that
// matches its compression.
func layer(b []byte, comp string) v1.Layer {
	mt := map[string]types.MediaType{"gzip": types.OCILayer, "zstd": types.OCILayerZStd, "none": types.OCIUncompressedLayer}[comp]
	l := static.NewLayer(b, mt)
	// The diff ID is the digest of the decompressed tar, as docker load
	// checks it; a blob that does not decompress keeps its own digest.
	var plain []byte
	var err error
	switch comp {
	case "gzip":
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(b)); err == nil {
			plain, err = io.ReadAll(zr)
		}
	case "zstd":
		var zr *zstd.Decoder
		if zr, err = zstd.NewReader(nil); err == nil {
			plain, err = zr.DecodeAll(b, nil)
		}
	default:
		return l
	}
	if err != nil {
		return l
	}
	h, _, _ := v1.SHA256(bytes.NewReader(plain))
	return diffLayer{l, h}
}

type diffLayer struct {
	v1.Layer
	diff v1.Hash
}

func (l diffLayer) DiffID() (v1.Hash, error) { return l.diff, nil }

func tarLayer(t testing.TB, comp string, files ...file) v1.Layer {
	b := tarBytes(t, files...)
	switch comp {
	case "gzip":
		b = gz(t, b)
	case "zstd":
		b = zst(t, b)
	}
	return layer(b, comp)
}

// image builds an OCI image from layers with the config cfg.
func image(t testing.TB, cfg v1.Config, history []v1.History, layers ...v1.Layer) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var err error
	for _, l := range layers {
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.History = history
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// tarDir writes dir as a tar file (an oci-archive of a layout).
func tarDir(t testing.TB, dir, out string) {
	var files []file
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, file{filepath.ToSlash(rel), b})
		return nil
	})
	if err := os.WriteFile(out, tarBytes(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// noValues fails if the report, in any format, holds any of the values.
func noValues(t *testing.T, r *Report, values ...string) {
	t.Helper()
	var buf bytes.Buffer
	r.WriteJSON(&buf)
	r.WriteText(&buf)
	r.WriteSARIF(&buf)
	for _, v := range values {
		if len(v) >= 6 && strings.Contains(buf.String(), v) {
			t.Errorf("the report contains a secret value")
		}
	}
}

func dump(t *testing.T, r *Report) string {
	b, _ := json.MarshalIndent(r.Findings, "", " ")
	return string(b) + "\n" + strings.Join(r.Coverage.Errors, "\n")
}

var _ = io.EOF

// goroot is the Go toolchain tree the go command in PATH uses.
func goroot(t testing.TB) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skip("no go command:", err)
	}
	return strings.TrimSpace(string(out))
}

func testLimits(depth int) limits {
	return limits{depth: depth, sparse: 1 << 40, check: 64 << 20}
}

// imageAt audits the image a transport reference names.
func imageAt(ctx context.Context, ref string, o Options) (*Report, error) {
	r, err := imageref.Parse(ref)
	if err != nil {
		return nil, err
	}
	return Ref(ctx, r, o)
}
