package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/internal/match"
)

// printsOf fingerprints values under a new salt, as a bundle records
// them, and compiles them for a keyless audit.
func printsOf(t testing.TB, values []Value) *Prints {
	t.Helper()
	salt, err := fingerprint.NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	b := fingerprint.Bundle{Path: "secrets/prod.env", Salt: salt, Prints: map[string]string{}}
	for _, v := range values {
		p, err := fingerprint.Make(salt, v.Value)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		b.Prints[v.Name] = p
	}
	set, err := fingerprint.NewSet([]fingerprint.Bundle{b})
	if err != nil {
		t.Fatal(err)
	}
	return &Prints{Set: set}
}

// placeKey is what two audits must agree on of a finding: the key and
// encoding, and the place (where, layer, path, part, field, offsets).
func placeKey(f Finding) string {
	off, soff := int64(-1), int64(-1)
	if f.Offset != nil {
		off = *f.Offset
	}
	if f.StreamOffset != nil {
		soff = *f.StreamOffset
	}
	layer := -1
	if f.LayerIndex != nil {
		layer = *f.LayerIndex
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d|%s|%s|%s|%d|%d", f.Kind, f.Rule, f.Secret, f.Encoding, f.Where, f.Image, layer, f.Path, f.Part, f.Field, off, soff)
}

func placeKeys(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, placeKey(f))
	}
	sort.Strings(out)
	return out
}

// TestKeylessCorpus plants every form the matcher searches ([match.Forms]:
// raw, hex, base64 and base64url at each alignment, wrapped base64, the URL,
// HTML and JSON escapes, UTF-16) of each of three sealed values in a file
// of its own, and each value raw in every place the audit promises (a
// gzip file, a tar.gz inside the layer, a zip, a deleted file, config env,
// labels, entrypoint, history, a build argument and the build arguments of
// a provenance attestation), in an image built here. The keyless audit finds
// each form in its file with its encoding, and the keyed and keyless audits
// of the same image report the same findings, by key, encoding and place.
func TestKeylessCorpus(t *testing.T) {
	t.Parallel()
	values := []Value{
		{Name: "DB_PASSWORD", Value: []byte(randString(t, alnum, 40))},
		{Name: "API_KEY", Value: []byte(randString(t, alnum, 32) + `/+?&"<>' é`)},
		{Name: "CERT", Value: []byte(randString(t, alnum+"+/", 120))},
	}
	type plantedForm struct{ name, path, encoding string }
	var forms []plantedForm
	var files []file
	for _, v := range values {
		for i, f := range match.Forms(v.Value) {
			path := fmt.Sprintf("forms/%s/%03d-%s.txt", v.Name, i, f.Encoding)
			files = append(files, file{path, append(append([]byte("<<"), f.Text...), ">>\n"...)})
			forms = append(forms, plantedForm{v.Name, path, f.Encoding})
		}
	}
	raw := func(i int) string { return string(values[i].Value) }
	l0 := tarLayer(t, "gzip", files...)
	l1 := tarLayer(t, "zstd",
		file{"deep/nested.tar.gz", gz(t, tarBytes(t, file{"inner/db.txt", []byte("db=" + raw(0))}, file{"inner/more.tar", tarBytes(t, file{"api.txt", values[1].Value})}))},
		file{"deep/cert.gz", gz(t, values[2].Value)},
		file{"deep/app.jar", zipBytes(t, file{"conf/db.properties", []byte("db.password=" + raw(0))})},
		file{"gone/secret.txt", values[1].Value},
	)
	l2 := tarLayer(t, "none", file{"gone/.wh.secret.txt", nil}, file{"etc/motd", []byte("hello")})
	cfg := v1.Config{
		Env:        []string{"PATH=/usr/bin", "DB=" + raw(0)},
		Labels:     map[string]string{"api": raw(1)},
		Entrypoint: []string{"/app/server", "--cert=" + raw(2)},
	}
	hist := []v1.History{
		{CreatedBy: "RUN |1 TOKEN=" + raw(1) + " /bin/sh -c make"},
		{CreatedBy: "COPY . /app"},
		{CreatedBy: "RUN /bin/sh -c true # " + raw(2)},
	}
	img := image(t, cfg, hist, l0, l1, l2)
	dg, _ := img.Digest()
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://slsa.dev/provenance/v0.2",
		"subject":       []any{map[string]any{"name": "pkg:docker/x", "digest": map[string]string{"sha256": dg.Hex}}},
		"predicate": map[string]any{
			"builder":   map[string]any{"id": ""},
			"buildType": "https://mobyproject.org/buildkit@v1",
			"invocation": map[string]any{"parameters": map[string]any{
				"frontend": "dockerfile.v0",
				"args":     map[string]string{"build-arg:DB": raw(0), "build-arg:CERT": raw(2)},
			}},
		},
	})
	att := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	att, _ = mutate.Append(att, mutate.Addendum{Layer: static.NewLayer(stmt, "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": dg.String()},
		}},
	)
	dir := writeLayout(t, idx)

	keyed, err := imageAt(context.Background(), "oci:"+dir, Options{Values: values})
	if err != nil {
		t.Fatal(err)
	}
	keyless, err := imageAt(context.Background(), "oci:"+dir, Options{Prints: printsOf(t, values)})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Report{"keyed": keyed, "keyless": keyless} {
		if !r.Coverage.Complete {
			t.Fatalf("%s: incomplete: %v", name, r.Coverage.Errors)
		}
	}
	if keyless.Coverage.FingerprintValues != len(values) {
		t.Errorf("keyless coverage counts %d values by fingerprint, want %d", keyless.Coverage.FingerprintValues, len(values))
	}

	for _, f := range forms {
		if !has(keyless, want{kind: "known-value", secret: f.name, where: "layer", path: f.path, encoding: f.encoding}) {
			t.Errorf("keyless: the %s form of %s in %s is not found", f.encoding, f.name, f.path)
		}
	}
	for _, w := range []want{
		{kind: "known-value", secret: "DB_PASSWORD", path: "deep/nested.tar.gz!/inner/db.txt", encoding: "raw"},
		{kind: "known-value", secret: "API_KEY", path: "deep/nested.tar.gz!/inner/more.tar!/api.txt", encoding: "raw"},
		{kind: "known-value", secret: "CERT", path: "deep/cert.gz", encoding: "raw"},
		{kind: "known-value", secret: "DB_PASSWORD", path: "deep/app.jar!/conf/db.properties", encoding: "raw"},
		{kind: "known-value", secret: "API_KEY", path: "gone/secret.txt", deleted: true},
		{kind: "known-value", secret: "DB_PASSWORD", where: "config", field: "Env[1]"},
		{kind: "known-value", secret: "API_KEY", where: "config", field: "Labels"},
		{kind: "known-value", secret: "CERT", where: "config", field: "Entrypoint"},
		{kind: "known-value", secret: "API_KEY", where: "history"},
		{kind: "known-value", secret: "CERT", where: "history"},
		{kind: "known-value", secret: "DB_PASSWORD", where: "attestation"},
		{kind: "known-value", secret: "CERT", where: "attestation"},
	} {
		if !has(keyless, w) {
			t.Errorf("keyless: missing %+v", w)
		}
	}

	a, b := placeKeys(keyed), placeKeys(keyless)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		only := func(x, y []string) []string {
			in := map[string]bool{}
			for _, s := range y {
				in[s] = true
			}
			var out []string
			for _, s := range x {
				if !in[s] {
					out = append(out, s)
				}
			}
			return out
		}
		t.Errorf("keyed and keyless findings differ (%d and %d):\nonly keyed:\n%s\nonly keyless:\n%s", len(a), len(b),
			strings.Join(only(a, b), "\n"), strings.Join(only(b, a), "\n"))
	}
	var secrets []string
	for _, v := range values {
		secrets = append(secrets, string(v.Value))
	}
	noValues(t, keyless, secrets...)
}
