package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// artifactImage is a manifest whose config has media type cfgType and
// whose blobs are layers of the given media types.
func artifactImage(t *testing.T, cfgType types.MediaType, cfg []byte, layers ...v1.Layer) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, cfgType)
	img, err := mutate.Append(img, func() (out []mutate.Addendum) {
		for _, l := range layers {
			out = append(out, mutate.Addendum{Layer: l})
		}
		return
	}()...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		img = &rawConfigImage{Image: img, cfg: cfg}
	}
	return img
}

// rawConfigImage serves a config blob of the test's choosing.
type rawConfigImage struct {
	v1.Image
	cfg []byte
}

func (r *rawConfigImage) RawConfigFile() ([]byte, error) { return r.cfg, nil }

func (r *rawConfigImage) Manifest() (*v1.Manifest, error) {
	m, err := r.Image.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	h, n, _ := v1.SHA256(strings.NewReader(string(r.cfg)))
	m.Config.Digest, m.Config.Size = h, n
	return m, nil
}

func (r *rawConfigImage) RawManifest() ([]byte, error) {
	m, err := r.Manifest()
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func (r *rawConfigImage) Digest() (v1.Hash, error) {
	b, err := r.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(strings.NewReader(string(b)))
	return h, err
}

func (r *rawConfigImage) Size() (int64, error) {
	b, err := r.RawManifest()
	return int64(len(b)), err
}

func (r *rawConfigImage) ConfigName() (v1.Hash, error) {
	h, _, err := v1.SHA256(strings.NewReader(string(r.cfg)))
	return h, err
}

// OCI artifacts: every blob is searched decoded, whatever the config
// media type says; an index that holds no image is not a clean image.
func TestArtifacts(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	chart := func(values string) v1.Layer {
		return static.NewLayer(gz(t, tarBytes(t, file{"demo/Chart.yaml", []byte("apiVersion: v2\nname: demo\nversion: 0.1.0\n")}, file{"demo/values.yaml", []byte(values)})), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
	}
	helmCfg := []byte(`{"name":"demo","version":"0.1.0","apiVersion":"v2"}`)
	statement := func(s string) []byte {
		b, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://example.com/custom", "predicate": map[string]string{"note": "deploy with token " + s}})
		return b
	}
	dsse := func(s string) v1.Layer {
		env, _ := json.Marshal(map[string]any{"payloadType": "application/vnd.in-toto+json", "payload": base64.StdEncoding.EncodeToString(statement(s)), "signatures": []any{}})
		return static.NewLayer(env, "application/vnd.dsse.envelope.v1+json")
	}
	for _, c := range []struct {
		name string
		img  func(secret string) v1.Image
		path string
	}{
		{"helm chart", func(s string) v1.Image {
			return artifactImage(t, "application/vnd.cncf.helm.config.v1+json", helmCfg, chart("image: demo\ntoken: "+s+"\n"))
		}, "demo/values.yaml"},
		{"image whose config descriptor is mislabelled", func(s string) v1.Image {
			return artifactImage(t, "application/octet-stream", []byte(`{"architecture":"amd64","os":"linux"}`), layer(gz(t, tarBytes(t, file{"app/settings", []byte("token: " + s + "\n")})), "gzip"))
		}, "app/settings"},
		{"DSSE envelope", func(s string) v1.Image {
			return artifactImage(t, "application/vnd.oci.empty.v1+json", []byte("{}"), dsse(s))
		}, "payload"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: c.img(tok)}))
			r, err := imageAt(context.Background(), "oci:"+dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range r.Findings {
				if f.Rule == "github-token" && f.Where == whereArtifact && strings.HasSuffix(f.Path, c.path) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no finding in %s: %s", c.path, dump(t, r))
			}
			wantIncomplete(t, r, "holds no image, only 1 artifacts")
			// The clean twin: no finding, and still not a clean image.
			dir = writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: c.img(strings.Repeat("x", 40))}))
			r, err = imageAt(context.Background(), "oci:"+dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Findings) != 0 {
				t.Fatalf("clean twin: %s", dump(t, r))
			}
			wantIncomplete(t, r, "holds no image")
		})
	}
}

// cosignPeer returns cosign, which no Debian package holds (it is built
// from the Go module proxy into $(go env GOPATH)/bin). Missing, the test
// is skipped, and fails when SEALENV_E2E_COSIGN is set.
func cosignPeer(t *testing.T) string {
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if p := filepath.Join(os.Getenv("HOME"), "go", "bin", "cosign"); isExec(p) {
		return p
	}
	if os.Getenv("SEALENV_E2E_COSIGN") != "" {
		t.Fatal("cosign is not installed (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5)")
	}
	t.Skip("cosign is not installed (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5)")
	return ""
}

// A cosign-signed image saved with cosign save (a layout with the image,
// its signature and its attestation manifests) is a normal thing to
// audit: clean when the image is; a token in the attestation's predicate
// is found in the DSSE payload, decoded.
func TestCosignLayout(t *testing.T) {
	t.Parallel()
	cosign := cosignPeer(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tok := "ghp_" + randString(t, alnum, 36)
	for _, c := range []struct {
		name, note string
		dirty      bool
	}{{"clean", "a harmless note", false}, {"token in the predicate", "deploy with " + tok, true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			img := image(t, v1.Config{Env: []string{"PATH=/usr/bin"}}, nil, tarLayer(t, "gzip", file{"app/readme.txt", []byte("hello")}))
			tag, err := name.NewTag(host + "/app:" + strings.ReplaceAll(c.name, " ", "-"))
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			ref := tag.Context().Digest(d.String()).String()
			env := []string{"HOME=" + dir, "COSIGN_PASSWORD=", "COSIGN_YES=true", "SIGSTORE_NO_CACHE=true"}
			run := func(args ...string) { runTool(t, dir, nil, env, cosign, args...) }
			run("generate-key-pair")
			pred, _ := json.Marshal(map[string]string{"note": c.note})
			os.WriteFile(filepath.Join(dir, "pred.json"), pred, 0o644)
			run("sign", "--key", "cosign.key", "--tlog-upload=false", ref)
			run("attest", "--key", "cosign.key", "--tlog-upload=false", "--type", "custom", "--predicate", "pred.json", ref)
			out := filepath.Join(dir, "layout")
			run("save", ref, "--dir", out)
			if _, err := layout.FromPath(out); err != nil {
				t.Fatal(err)
			}
			r, err := imageAt(context.Background(), "oci:"+out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !c.dirty {
				wantClean(t, r)
				return
			}
			if !r.Coverage.Complete {
				t.Fatalf("incomplete: %q", r.Coverage.Errors)
			}
			for _, f := range r.Findings {
				if f.Rule == "github-token" && strings.HasSuffix(f.Path, "!/payload") {
					return
				}
			}
			t.Fatalf("the token in the attestation's payload was not found decoded: %s", dump(t, r))
		})
	}
}
