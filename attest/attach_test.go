package attest

import (
	"archive/tar"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
)

// newRegistry starts go-containerregistry's registry on 127.0.0.1, with or
// without the OCI 1.1 referrers API, and returns its host:port.
func newRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// push writes a new random image to host/repo:1 and returns its reference.
func push(t *testing.T, host, repo string) imageref.Ref {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(host + "/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return imageref.Ref{Transport: imageref.Docker, Name: r.String()}
}

func publish(t *testing.T, ref imageref.Ref, r *audit.Report, s crypto.Signer, at time.Time) []byte {
	t.Helper()
	ctx := context.Background()
	tg, err := Resolve(ctx, ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "att.json")
	res, err := Publish(ctx, tg, r, PublishOptions{Signer: s, Attach: true, File: file, Failing: true, Version: "v-test", Time: at})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Written || !res.Attached || res.Skipped {
		t.Fatalf("Publish: %+v", res)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verify(ref imageref.Ref, key crypto.PublicKey, envs ...[]byte) (*Verified, error) {
	return Verify(context.Background(), ref, VerifyOptions{Key: key, Envelopes: envs})
}

// attLayers returns cosign's attestation image's layers for ref.
func attLayers(t *testing.T, ref imageref.Ref) []v1.Descriptor {
	t.Helper()
	tg, err := Resolve(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref.Name)
	img, err := remote.Image(attTag(r.Context(), tg.Descriptor.Digest))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers
}

func TestRegistryAttachAndVerify(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		host := newRegistry(t, referrers)
		ref := push(t, host, "app")
		k := cosigntest.ECDSA(t)
		ctx := context.Background()
		tg, err := Resolve(ctx, ref, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tg.Name != host+"/app" || tg.Descriptor.MediaType != types.DockerManifestSchema2 && tg.Descriptor.MediaType != types.OCIManifestSchema1 {
			t.Fatalf("target %+v", tg)
		}

		// Another tool's attestation is already in the .att image: it stays.
		r, _ := name.ParseReference(ref.Name)
		foreign := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		foreign, err = mutate.Append(foreign, mutate.Addendum{Layer: static.NewLayer([]byte(`{"other":1}`), EnvelopeMediaType),
			Annotations: map[string]string{"predicateType": "https://spdx.dev/Document"}, MediaType: EnvelopeMediaType})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(attTag(r.Context(), tg.Descriptor.Digest), foreign); err != nil {
			t.Fatal(err)
		}

		t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		env := publish(t, ref, report("mk-0123456789", true), k, t0)
		v, err := verify(ref, k.Public())
		if err != nil {
			t.Fatalf("referrers API %v: %v", referrers, err)
		}
		if v.Valid != 1 || v.Found != 2 || v.Statement.Predicate.Verdict != VerdictClean {
			t.Errorf("referrers API %v: %+v", referrers, v)
		}
		if _, err := verify(ref, k.Public(), env); err != nil {
			t.Errorf("the envelope written to the file: %v", err)
		}

		// The referrer (API or referrers tag) holds the same envelope.
		idx, err := remote.Referrers(r.Context().Digest(tg.Descriptor.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		im, _ := idx.IndexManifest()
		if len(im.Manifests) != 1 || im.Manifests[0].ArtifactType != ArtifactType && !(referrers && im.Manifests[0].ArtifactType == emptyConfigType) {
			t.Fatalf("referrers: %+v", im.Manifests)
		}
		layers := attLayers(t, ref)
		if len(layers) != 2 || layers[0].Annotations["predicateType"] != "https://spdx.dev/Document" ||
			layers[1].Annotations["predicateType"] != PredicateType || layers[1].MediaType != EnvelopeMediaType {
			t.Fatalf(".att layers: %+v", layers)
		}

		// A newer verdict with findings replaces ours in .att and decides.
		publish(t, ref, report("mk-0123456789", true, "high"), k, t0.Add(time.Hour))
		layers = attLayers(t, ref)
		if len(layers) != 2 || layers[1].Annotations["predicateType"] != PredicateType {
			t.Fatalf(".att layers after a second verdict: %+v", layers)
		}
		_, err = verify(ref, k.Public())
		var ve *VerdictError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "1 findings at or above medium") {
			t.Errorf("after a verdict with findings: %v", err)
		}

		// Another signer's verdict does not replace this one's.
		k2 := cosigntest.Ed25519(t)
		publish(t, ref, report("mk-0123456789", true), k2, t0.Add(2*time.Hour))
		if layers = attLayers(t, ref); len(layers) != 3 {
			t.Fatalf(".att layers after another signer's verdict: %+v", layers)
		}
		if _, err := verify(ref, k2.Public()); err != nil {
			t.Errorf("the second signer's verdict: %v", err)
		}
		if _, err := verify(ref, k.Public()); !errors.As(err, &ve) {
			t.Errorf("the first signer's newest verdict has findings: %v", err)
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	host := newRegistry(t, false)
	a, b, c, none := push(t, host, "a"), push(t, host, "b"), push(t, host, "c"), push(t, host, "none")
	k := cosigntest.ECDSA(t)
	envA := publish(t, a, report("mk-0123456789", true), k, time.Now())
	ctx := context.Background()

	// A's attestation attached to B, and a tampered one to C.
	tb, _ := Resolve(ctx, b, Options{})
	if err := Attach(ctx, tb, envA, nil, time.Now(), Options{}); err != nil {
		t.Fatal(err)
	}
	e, _ := ParseEnvelope(envA)
	var st map[string]any
	payload, _ := decodeB64(e.Payload)
	json.Unmarshal(payload, &st)
	st["predicate"].(map[string]any)["complete"] = false
	e.Payload = encodeJSON(t, st)
	tampered, _ := e.Marshal()
	tc, _ := Resolve(ctx, c, Options{})
	if err := Attach(ctx, tc, tampered, nil, time.Now(), Options{}); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		ref  imageref.Ref
		key  crypto.PublicKey
		envs [][]byte
		want string
	}{
		"wrong key":           {a, cosigntest.ECDSA(t).Public(), nil, "no signature verifies with the key"},
		"wrong key type":      {a, cosigntest.Ed25519(t).Public(), nil, "no signature verifies with the key"},
		"another image":       {b, k.Public(), nil, "about another image (sha256:"},
		"tampered":            {c, k.Public(), nil, "no signature verifies with the key"},
		"none attached":       {none, k.Public(), nil, "none is attached"},
		"file, another image": {b, k.Public(), [][]byte{envA}, "about another image"},
		"file, not dsse":      {a, k.Public(), [][]byte{[]byte(`{"a":1}`)}, "not a DSSE envelope"},
	} {
		_, err := verify(tc.ref, tc.key, tc.envs...)
		if !errors.Is(err, ErrNoAttestation) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func encodeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// writeLayout writes a random image, or a two-platform index, to a new OCI
// layout tagged "1".
func writeLayout(t testing.TB, index bool) imageref.Ref {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	tag := layout.WithAnnotations(map[string]string{refNameAnnotation: "1"})
	if index {
		idx, err := random.Index(256, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendIndex(idx, tag); err != nil {
			t.Fatal(err)
		}
	} else {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, tag); err != nil {
			t.Fatal(err)
		}
	}
	return imageref.Ref{Transport: imageref.OCI, Path: dir}
}

// An OCI layout (an image, an index) and an OCI archive get a referrer
// manifest in index.json; the image stays the layout's one image for every
// reader, a second verdict replaces the first, and the audit still reads
// everything.
func TestLayoutAttachAndVerify(t *testing.T) {
	ctx := context.Background()
	k := cosigntest.Ed25519(t)
	arch := filepath.Join(t.TempDir(), "app.tar")
	src, err := imageref.Open(ctx, writeLayout(t, false), imageref.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := imageref.Write(ctx, imageref.Ref{Transport: imageref.OCIArchive, Path: arch}, src.Image, nil, false, imageref.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []imageref.Ref{writeLayout(t, false), writeLayout(t, true), {Transport: imageref.OCIArchive, Path: arch}} {
		tg, err := Resolve(ctx, ref, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "image", false: "1"}[ref.Transport == imageref.OCIArchive]; tg.Name != want {
			t.Errorf("%s: subject name %q, want %q", ref, tg.Name, want)
		}
		t0 := time.Now()
		first := publish(t, ref, report("mk-0123456789", true), k, t0)
		v, err := verify(ref, k.Public())
		if err != nil || v.Valid != 1 {
			t.Fatalf("%s: %+v, %v", ref, v, err)
		}
		if got, _ := Resolve(ctx, ref, Options{}); got.Descriptor.Digest != tg.Descriptor.Digest {
			t.Errorf("%s: the image is now %s, was %s", ref, got.Descriptor.Digest, tg.Descriptor.Digest)
		}
		s, err := imageref.Open(ctx, ref, imageref.Options{})
		if err != nil {
			t.Fatalf("%s: the attested layout does not open: %v", ref, err)
		}
		s.Close()
		rep, err := audit.Ref(ctx, ref, audit.Options{})
		if err != nil || !rep.Coverage.Complete {
			t.Fatalf("%s: the audit of the attested layout: %v %+v", ref, err, rep)
		}

		publish(t, ref, report("mk-0123456789", false), k, t0.Add(time.Minute))
		_, err = verify(ref, k.Public())
		var ve *VerdictError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "incomplete") {
			t.Errorf("%s: after an incomplete verdict: %v", ref, err)
		}
		l, err := openLayout(ref)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range l.idx.Manifests {
			if m.ArtifactType == ArtifactType {
				n++
			}
		}
		l.close()
		if n != 1 {
			t.Errorf("%s: %d sealenv referrers in index.json after a second verdict, want 1", ref, n)
		}
		k2 := cosigntest.ECDSA(t)
		publish(t, ref, report("mk-0123456789", true), k2, t0.Add(2*time.Minute))
		if v, err := verify(ref, k2.Public()); err != nil || v.Found != 2 {
			t.Errorf("%s: another signer's verdict beside the first's: %+v, %v", ref, v, err)
		}
		if ref.Transport == imageref.OCIArchive {
			checkUniqueNames(t, ref.Path)
		} else {
			h, _, _ := v1.SHA256(strings.NewReader(strings.TrimSuffix(string(first), "\n")))
			if _, err := os.Stat(filepath.Join(ref.Path, "blobs", "sha256", h.Hex)); !os.IsNotExist(err) {
				t.Errorf("%s: the replaced verdict's envelope is still there: %v", ref, err)
			}
		}
	}
}

// checkUniqueNames fails t when the archive holds a name twice.
func checkUniqueNames(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[cleanName(h.Name)] {
			t.Errorf("%s holds %s twice", p, h.Name)
		}
		seen[cleanName(h.Name)] = true
	}
}

func TestResolveRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img, _ := random.Image(64, 1)
	da := filepath.Join(dir, "d.tar")
	if err := imageref.Write(ctx, imageref.Ref{Transport: imageref.DockerArchive, Path: da}, img, nil, false, imageref.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []imageref.Ref{{Transport: imageref.DockerArchive, Path: da}, {Path: da}, {Transport: imageref.DockerDaemon, Name: "app:1"}} {
		if _, err := Resolve(ctx, ref, Options{}); !errors.Is(err, ErrNoDigest) {
			t.Errorf("%s: %v, want ErrNoDigest", ref, err)
		}
	}
	two := writeLayout(t, false)
	p, _ := layout.FromPath(two.Path)
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(ctx, two, Options{}); err == nil || !strings.Contains(err.Error(), "holds 2 images") {
		t.Errorf("a layout of two images: %v", err)
	}
	if _, err := Resolve(ctx, imageref.Ref{Transport: imageref.OCI, Path: two.Path, Name: "1"}, Options{}); err != nil {
		t.Errorf("a tagged image of two: %v", err)
	}
	if _, err := Resolve(ctx, imageref.Ref{Transport: imageref.OCI, Path: two.Path, Name: "2"}, Options{}); err == nil || !strings.Contains(err.Error(), `no manifest tagged "2"`) {
		t.Errorf("a missing tag: %v", err)
	}
}
