package audit

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// planted is an image with a secret in every place the audit searches, and
// the values it holds.
type planted struct {
	img     v1.Image
	index   v1.ImageIndex // img plus a provenance attestation
	values  []Value
	short   []int    // the values too short to search, accepted as such
	secrets []string // every planted string, to check reports never hold one
}

func plant(t *testing.T) *planted {
	p := &planted{}
	dbPass := randString(t, alnum, 24)
	apiKey := randString(t, alnum, 32) + "/+?&\"é"
	envVal := randString(t, alnum, 20)
	p.values = []Value{{Name: "DB_PASSWORD", Value: []byte(dbPass)}, {Name: "API_KEY", Value: []byte(apiKey)}, {Name: "ENV_SECRET", Value: []byte(envVal)}, {Name: "SHORT", Value: []byte("abc")}}
	p.short = []int{3}
	gh := "ghp_" + randString(t, alnum, 36)
	aws := "AKIA" + randString(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	slack := "xoxb-" + randString(t, "0123456789", 12) + "-" + randString(t, alnum, 24)
	stripe := "sk_live_" + randString(t, alnum, 32)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJ" + randString(t, alnum, 40) + "." + randString(t, alnum, 43)
	pem := "-----BEGIN PRIVATE KEY-----\n" + randString(t, alnum+"+/", 64) + "\n" + randString(t, alnum+"+/", 64) + "\n-----END PRIVATE KEY-----\n"
	envPass := randString(t, alnum, 18)
	npm := randString(t, alnum, 30)
	p.secrets = []string{dbPass, apiKey, envVal, gh, aws, slack, stripe, jwt, envPass, npm, pem[30:80]}

	u16 := utf16.Encode([]rune(dbPass))
	le := make([]byte, 2*len(u16))
	for i, c := range u16 {
		binary.LittleEndian.PutUint16(le[2*i:], c)
	}
	jsonKey, _ := json.Marshal(apiKey)
	l0 := tarLayer(t, "gzip",
		file{"app/config.txt", []byte("db=" + dbPass + "\ntoken: " + gh + "\n")},
		file{"app/b64.txt", []byte("x" + base64.StdEncoding.EncodeToString([]byte("a"+dbPass)))},
		file{"app/b64url.txt", []byte(base64.URLEncoding.EncodeToString([]byte("ab" + apiKey)))},
		file{"app/hex.txt", []byte(hex.EncodeToString([]byte(dbPass)))},
		file{"app/url.txt", []byte("k=" + url.QueryEscape(apiKey))},
		file{"app/json.json", []byte(`{"k":` + string(jsonKey) + `}`)},
		file{"app/utf16.bin", le},
		file{"app/.env", []byte("# app\nDATABASE_PASSWORD=" + envPass + "\n")},
		file{"secrets/key.pem", []byte(pem)},
		file{"lib/app.jar", zipBytes(t, file{"META-INF/MANIFEST.MF", []byte("x")}, file{"conf/aws.properties", []byte("aws.key=" + aws + "\n")})},
		file{"lib/bundle.tar.gz", gz(t, tarBytes(t, file{"inner/slack.txt", []byte(slack)}))},
	)
	l1 := tarLayer(t, "zstd", file{"secrets/.wh.key.pem", nil}, file{"app/ok.txt", []byte("nothing here")})
	l2 := tarLayer(t, "none", file{"usr/share/doc.txt", []byte("plain text, no secrets")})
	cfg := v1.Config{
		Env:    []string{"PATH=/usr/bin", "ENV_SECRET=" + envVal, "DB_PASSWORD_FILE=/run/secrets/db"},
		Labels: map[string]string{"billing": stripe},
		Cmd:    []string{"/app/server"},
	}
	hist := []v1.History{
		{CreatedBy: "RUN |2 NPM_TOKEN=" + npm + " VERSION=1.2 /bin/sh -c npm ci"},
		{CreatedBy: "COPY . /app"},
		{CreatedBy: "CMD [\"/app/server\"]", EmptyLayer: true},
	}
	img := image(t, cfg, hist, l0, l1, l2)
	img = mutate.Annotations(img, map[string]string{"org.example.token": jwt}).(v1.Image)
	p.img = img

	dg, _ := img.Digest()
	stmt := map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://slsa.dev/provenance/v0.2",
		"subject":       []any{map[string]any{"name": "pkg:docker/x", "digest": map[string]string{"sha256": dg.Hex}}},
		"predicate": map[string]any{
			"builder":     map[string]any{"id": ""},
			"buildType":   "https://mobyproject.org/buildkit@v1",
			"buildConfig": map[string]any{"llbDefinition": []any{}},
			"invocation": map[string]any{"parameters": map[string]any{
				"frontend": "dockerfile.v0",
				"args":     map[string]string{"build-arg:DB_PASSWORD": dbPass, "build-arg:VERSION": "1.2"},
				"secrets":  []any{map[string]any{"id": "npmrc"}},
			}},
		},
	}
	sb, _ := json.Marshal(stmt)
	att := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	att, _ = mutate.Append(att, mutate.Addendum{Layer: static.NewLayer(sb, "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}})
	p.index = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": dg.String()},
		}},
	)
	return p
}

func writeLayout(t *testing.T, idx v1.ImageIndex) string {
	dir := t.TempDir()
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	return dir
}

type want struct {
	kind, rule, secret, where, path, field, encoding string
	deleted                                          bool
}

func has(r *Report, w want) bool {
	for _, f := range r.Findings {
		if (w.kind == "" || f.Kind == w.kind) && (w.rule == "" || f.Rule == w.rule) && (w.secret == "" || f.Secret == w.secret) &&
			(w.where == "" || f.Where == w.where) && (w.path == "" || f.Path == w.path) &&
			(w.field == "" || strings.Contains(f.Field, w.field)) && (w.encoding == "" || f.Encoding == w.encoding) &&
			(!w.deleted || f.DeletedInLayer != nil) {
			return true
		}
	}
	return false
}

var layerWants = []want{
	{kind: "known-value", secret: "DB_PASSWORD", where: "layer", path: "app/config.txt", encoding: "raw"},
	{kind: "rule", rule: "github-token", path: "app/config.txt"},
	{kind: "known-value", secret: "DB_PASSWORD", path: "app/b64.txt", encoding: "base64"},
	{kind: "known-value", secret: "API_KEY", path: "app/b64url.txt"},
	{kind: "known-value", secret: "DB_PASSWORD", path: "app/hex.txt", encoding: "hex"},
	{kind: "known-value", secret: "API_KEY", path: "app/url.txt", encoding: "url"},
	{kind: "known-value", secret: "API_KEY", path: "app/json.json", encoding: "json"},
	{kind: "known-value", secret: "DB_PASSWORD", path: "app/utf16.bin", encoding: "utf16le"},
	{kind: "plaintext-bundle", path: "app/.env"},
	{kind: "rule", rule: "private-key", path: "secrets/key.pem", deleted: true},
	{kind: "rule", rule: "aws-access-key-id", path: "lib/app.jar!/conf/aws.properties"},
	{kind: "rule", rule: "slack-token", path: "lib/bundle.tar.gz!/inner/slack.txt"},
}

var configWants = []want{
	{kind: "known-value", secret: "ENV_SECRET", where: "config", field: "Env[1]"},
	{kind: "rule", rule: "stripe-secret-key", where: "config", field: "Labels"},
	{kind: "build-arg", rule: "secret-build-arg", where: "history", field: "history[0].created_by"},
}

var indexWants = []want{
	{kind: "rule", rule: "jwt", where: "annotation"},
	{kind: "known-value", secret: "DB_PASSWORD", where: "attestation"},
	{kind: "build-arg", where: "attestation"},
}

func check(t *testing.T, r *Report, p *planted, wants ...[]want) {
	t.Helper()
	if !r.Coverage.Complete {
		t.Fatalf("incomplete: %v", r.Coverage.Errors)
	}
	for _, ws := range wants {
		for _, w := range ws {
			if !has(r, w) {
				t.Errorf("missing %+v", w)
			}
		}
	}
	if t.Failed() {
		t.Log(dump(t, r))
	}
	noValues(t, r, p.secrets...)
}

func TestAuditOCILayout(t *testing.T) {
	t.Parallel()
	p := plant(t)
	dir := writeLayout(t, p.index)
	r, err := imageAt(context.Background(), "oci:"+dir, Options{Values: p.values, ShortAccepted: p.short})
	if err != nil {
		t.Fatal(err)
	}
	check(t, r, p, layerWants, configWants, indexWants)
	if r.Coverage.Layers != 3 || r.Coverage.Images != 1 || r.Coverage.Attestations != 1 {
		t.Errorf("coverage %+v", r.Coverage)
	}
	if len(r.Coverage.ShortValues) != 1 || r.Coverage.ShortValues[0] != "SHORT" || len(r.Coverage.ShortAccepted) != 1 {
		t.Errorf("short values %v, accepted %v", r.Coverage.ShortValues, r.Coverage.ShortAccepted)
	}
	if len(r.Provenance) != 1 || r.Provenance[0].Mode != "max" || r.Provenance[0].Secrets[0] != "npmrc" {
		t.Errorf("provenance %+v", r.Provenance)
	}
	for _, f := range r.Findings {
		if f.Path == "secrets/key.pem" && (f.DeletedInLayer == nil || *f.DeletedInLayer != 1 || *f.LayerIndex != 0) {
			t.Errorf("deleted file: %+v", f)
		}
		if f.Field == "config.Env[2]" {
			t.Errorf("a _FILE variable is not a secret: %+v", f)
		}
	}
}

func TestAuditTransports(t *testing.T) {
	t.Parallel()
	p := plant(t)
	ctx := context.Background()
	dir := writeLayout(t, p.index)
	tmp := t.TempDir()

	ociArchive := filepath.Join(tmp, "oci.tar")
	tarDir(t, dir, ociArchive)
	dockerArchive := filepath.Join(tmp, "docker.tar")
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(dockerArchive, tag, p.img); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.ParseReference(host+"/app:1", name.Insecure)
	if err := remote.WriteIndex(ref, p.index); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		ref   string
		wants [][]want
	}{
		{"oci-archive:" + ociArchive, [][]want{layerWants, configWants, indexWants}},
		{ociArchive, [][]want{layerWants, configWants, indexWants}},
		{"docker-archive:" + dockerArchive, [][]want{layerWants, configWants}},
		{dockerArchive, [][]want{layerWants, configWants}},
		{dir, [][]want{layerWants, configWants, indexWants}},
		{"docker://" + host + "/app:1", [][]want{layerWants, configWants, indexWants}},
	} {
		t.Run(strings.SplitN(tc.ref, ":", 2)[0], func(t *testing.T) {
			r, err := imageAt(ctx, tc.ref, Options{Values: p.values, ShortAccepted: p.short, Insecure: true})
			if err != nil {
				t.Fatal(err)
			}
			check(t, r, p, tc.wants...)
		})
	}
}

func TestCleanImage(t *testing.T) {
	t.Parallel()
	img := image(t, v1.Config{Env: []string{"PATH=/usr/bin", "API_TOKEN_FILE=/run/secrets/token"}}, []v1.History{{CreatedBy: "RUN |1 VERSION=1 /bin/sh -c make"}},
		tarLayer(t, "gzip", file{"etc/hosts", []byte("127.0.0.1 localhost\n")}, file{"app/.env.example", []byte("DB_PASSWORD=changeme\n")}),
		tarLayer(t, "zstd", file{"app/run.sh", []byte("#!/bin/sh\nexec sealenv-inject -- /app/server\n")}),
	)
	dir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}))
	r, err := imageAt(context.Background(), "oci:"+dir, Options{Values: []Value{{Name: "X", Value: []byte(randString(t, alnum, 16))}}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() {
		t.Fatalf("not clean: %s", dump(t, r))
	}
}

func TestMultiPlatform(t *testing.T) {
	t.Parallel()
	v := randString(t, alnum, 16)
	mk := func(arch string) v1.Image {
		return image(t, v1.Config{}, nil, tarLayer(t, "gzip", file{"bin/" + arch, []byte("k=" + v)}))
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: mk("amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: mk("arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	r, err := imageAt(context.Background(), "oci:"+writeLayout(t, idx), Options{Values: []Value{{Name: "V", Value: []byte(v)}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.Images != 2 || len(r.Findings) != 2 || !has(r, want{path: "bin/amd64"}) || !has(r, want{path: "bin/arm64"}) {
		t.Fatalf("%+v %s", r.Coverage, dump(t, r))
	}
}

// Unreadable layers are never clean.
func TestIncomplete(t *testing.T) {
	t.Parallel()
	good := tarBytes(t, file{"a.txt", []byte("hello")})
	gzGood := gz(t, good)
	for name, l := range map[string]v1.Layer{
		"truncated gzip":      layer(gzGood[:len(gzGood)-10], "gzip"),
		"bzip2":               layer([]byte("BZh91AY&SY\x00\x00\x00\x00"+strings.Repeat("x", 600)), "gzip"),
		"not a tar":           layer([]byte(strings.Repeat("not a tar archive ", 100)), "none"),
		"truncated tar entry": layer(good[:600], "none"),
		"no end marker":       layer(good[:1024], "none"),
		"empty":               layer(nil, "none"),
	} {
		t.Run(name, func(t *testing.T) {
			img := image(t, v1.Config{}, nil, l)
			r, err := imageAt(context.Background(), "oci:"+writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Coverage.Complete || r.Clean() {
				t.Fatalf("reported complete: %+v", r.Coverage)
			}
			t.Log(r.Coverage.Errors)
		})
	}
	// A blob changed on disk fails its digest.
	img := image(t, v1.Config{}, nil, layer(good, "none"))
	dir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}))
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	bp := filepath.Join(dir, "blobs", "sha256", d.Hex)
	b, _ := os.ReadFile(bp)
	b[520] ^= 1
	os.WriteFile(bp, b, 0o644)
	r, err := imageAt(context.Background(), "oci:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.Complete {
		t.Fatal("altered blob reported complete")
	}
}

func TestDeletedByOpaqueDir(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	img := image(t, v1.Config{}, nil,
		tarLayer(t, "gzip", file{"srv/conf/token.txt", []byte(tok)}),
		tarLayer(t, "gzip", file{"srv/.wh..wh..opq", nil}),
	)
	r, err := imageAt(context.Background(), "oci:"+writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].DeletedInLayer == nil || *r.Findings[0].DeletedInLayer != 1 {
		t.Fatal(dump(t, r))
	}
	if strings.Contains(fmt.Sprint(r.Findings), tok) {
		t.Fatal("finding holds the value")
	}
}

// One zero block instead of two still ends an archive cleanly.
func TestOneZeroBlock(t *testing.T) {
	t.Parallel()
	good := tarBytes(t, file{"a.txt", []byte("hello")})
	img := image(t, v1.Config{}, nil, layer(good[:1536], "none"))
	r, err := imageAt(context.Background(), "oci:"+writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() {
		t.Fatalf("%+v", r.Coverage)
	}
}

// A cancelled audit is incomplete, never clean.
func TestCancelled(t *testing.T) {
	t.Parallel()
	img := image(t, v1.Config{}, nil, tarLayer(t, "gzip", file{"a.txt", []byte("hello")}))
	dir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := imageAt(ctx, "oci:"+dir, Options{})
	if err == nil && r.Clean() {
		t.Fatal("a cancelled audit is clean")
	}
}
