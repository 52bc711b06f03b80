package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/sealenv/sealenv/imageref"
)

// twoImages writes two OCI layouts whose images share a base layer that
// holds a sealed value; each has a clean layer of its own.
func twoImages(t *testing.T) (a, b string, shared v1.Hash, value string) {
	value = randString(t, alnum, 24)
	base := tarLayer(t, "gzip", file{"etc/app.conf", []byte("token=" + value + "\n")})
	mk := func(name string) string {
		img := image(t, v1.Config{}, nil, base, tarLayer(t, "gzip", file{"app/" + name, []byte(randString(t, alnum, 40))}))
		return writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}))
	}
	shared, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return mk("a"), mk("b"), shared, value
}

func refs(t testing.TB, srcs ...string) []imageref.Ref {
	var out []imageref.Ref
	for _, s := range srcs {
		r, err := imageref.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestRefsShareLayers(t *testing.T) {
	t.Parallel()
	a, b, shared, value := twoImages(t)
	// The shared layer's blob is not in the second layout: it can only
	// be complete if the layer is searched once, for the first image.
	if err := os.Remove(filepath.Join(b, "blobs", shared.Algorithm, shared.Hex)); err != nil {
		t.Fatal(err)
	}
	o := Options{Values: []Value{{Name: "API_TOKEN", Value: []byte(value)}}}
	r, err := Refs(context.Background(), refs(t, "oci:"+a, "oci:"+b), o)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Coverage.Complete || r.Coverage.ReusedLayers != 1 || r.Coverage.Layers != 4 || r.Coverage.Images != 2 {
		t.Fatalf("coverage %+v", r.Coverage)
	}
	if len(r.Images) != 2 || r.Images[0].Source != "oci:"+a || r.Images[1].Source != "oci:"+b {
		t.Fatalf("images %+v", r.Images)
	}
	for _, ir := range r.Images {
		if ir.Status != StatusFindings || ir.Findings != 1 {
			t.Errorf("%s: %s with %d findings, want one finding", ir.Source, ir.Status, ir.Findings)
		}
	}
	// The shared layer's finding is reported for each image.
	var sources []string
	for _, f := range r.Findings {
		if f.Secret == "API_TOKEN" && f.LayerDigest == shared.String() {
			sources = append(sources, f.Source)
		}
	}
	if len(sources) != 2 || sources[0] == sources[1] {
		t.Fatalf("findings of the shared layer in %v: %s", sources, dump(t, r))
	}
	// Alone, the second image cannot be read whole.
	alone, err := Refs(context.Background(), refs(t, "oci:"+b), o)
	if err != nil {
		t.Fatal(err)
	}
	if alone.Coverage.Complete || alone.Images[0].Status != StatusIncomplete {
		t.Fatalf("an image without its layer blob: %+v", alone.Images)
	}
	noValues(t, r, value)

	var js, sarif bytes.Buffer
	r.WriteJSON(&js)
	r.WriteSARIF(&sarif)
	var doc struct {
		Images   []ImageResult `json:"images"`
		Findings []Finding     `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || len(doc.Images) != 2 || doc.Findings[0].Source == "" {
		t.Fatalf("JSON report: %v %s", err, js.String())
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Properties map[string]any `json:"properties"`
			} `json:"results"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(sarif.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != 2 || log.Runs[0].Properties["images"] == nil {
		t.Fatalf("SARIF report: %s", sarif.String())
	}
	for _, res := range log.Runs[0].Results {
		if s, _ := res.Properties["source"].(string); !strings.HasPrefix(s, "oci:") {
			t.Errorf("a SARIF result without its image: %v", res.Properties)
		}
	}
}

// TestRefsSourceFails: a source that cannot be opened is an incomplete
// image; the others are audited.
func TestRefsSourceFails(t *testing.T) {
	t.Parallel()
	a, _, _, value := twoImages(t)
	missing := filepath.Join(t.TempDir(), "missing")
	r, err := Refs(context.Background(), refs(t, "oci:"+missing, "oci:"+a), Options{Values: []Value{{Name: "API_TOKEN", Value: []byte(value)}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.Complete || len(r.Images) != 2 || r.Images[0].Status != StatusIncomplete || r.Images[1].Status != StatusFindings {
		t.Fatalf("%+v", r.Images)
	}
	if !strings.Contains(strings.Join(r.Coverage.Errors, "\n"), missing) {
		t.Fatalf("the error does not name the source: %v", r.Coverage.Errors)
	}
}

func TestRefsWithCache(t *testing.T) {
	t.Parallel()
	a, b, _, value := twoImages(t)
	o := Options{Values: []Value{{Name: "API_TOKEN", Value: []byte(value)}}, Cache: openCache(t, t.TempDir())}
	cold, err := Refs(context.Background(), refs(t, "oci:"+a, "oci:"+b), o)
	if err != nil {
		t.Fatal(err)
	}
	if cold.Coverage.ReusedLayers != 1 || cold.Coverage.CachedLayers != 0 {
		t.Fatalf("cold: %+v", cold.Coverage)
	}
	warm, err := Refs(context.Background(), refs(t, "oci:"+a, "oci:"+b), o)
	if err != nil {
		t.Fatal(err)
	}
	// Three distinct layers, each taken from the cache once; the shared
	// one is then reused for the second image.
	if warm.Coverage.CachedLayers != 3 || warm.Coverage.ReusedLayers != 1 || len(warm.Findings) != len(cold.Findings) {
		t.Fatalf("warm: %+v", warm.Coverage)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	a, b, _, value := twoImages(t)
	o := Options{Values: []Value{{Name: "API_TOKEN", Value: []byte(value)}}}
	read := func(src string, o Options) *Report {
		r, err := imageAt(context.Background(), src, o)
		if err != nil {
			t.Fatal(err)
		}
		r.Source = src
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadReport(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	dirty := read("oci:"+a, o)
	clean := read("oci:"+b, Options{})
	incomplete := read("oci:"+b, Options{AllowShort: true, Values: []Value{{Name: "SHORT", Value: []byte("abc")}}})
	incomplete.Coverage.Complete = false
	incomplete.Coverage.Errors = []string{"a layer could not be read"}

	if m := Merge(clean, clean); !m.Clean() || len(m.Images) != 2 {
		t.Fatalf("two clean reports: %+v", m.Coverage)
	}
	m := Merge(clean, dirty)
	if m.Clean() || !m.Coverage.Complete || len(m.Findings) != len(dirty.Findings) || m.Findings[0].Source != "oci:"+a {
		t.Fatalf("clean and findings: %+v %s", m.Coverage, dump(t, m))
	}
	m3 := Merge(m, incomplete)
	if m3.Coverage.Complete || len(m3.Images) != 3 || m3.Images[2].Status != StatusIncomplete || !strings.HasPrefix(m3.Coverage.Errors[0], "oci:"+b+": ") {
		t.Fatalf("with an incomplete report: %+v %+v", m3.Coverage, m3.Images)
	}
	// A merged report merged again keeps its images.
	var buf bytes.Buffer
	m3.WriteJSON(&buf)
	again, err := ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if m4 := Merge(again); len(m4.Images) != 3 || m4.Coverage.Complete || len(m4.Findings) != len(m3.Findings) {
		t.Fatalf("merged again: %+v", m4.Images)
	}
	if _, err := ReadReport(strings.NewReader(`{"tool":"gitleaks"}`)); err == nil {
		t.Fatal("a report of another tool was read")
	}
	if _, err := ReadReport(strings.NewReader(`[`)); err == nil {
		t.Fatal("a damaged report was read")
	}
}

// TestRefsConcurrentOnce: two images sharing a layer, audited at once,
// search it once, and the report is the same bytes with one job or two,
// in either order of completion; the order of the sources alone decides
// which image the shared layer counts as searched for.
func TestRefsConcurrentOnce(t *testing.T) {
	t.Parallel()
	a, b, shared, value := twoImages(t)
	var want []byte
	for _, jobs := range []int{1, 2, 2, 2} {
		o := Options{Jobs: jobs, Values: []Value{{Name: "API_TOKEN", Value: []byte(value)}}}
		oo := o.defaults()
		o.memo = newLayerMemo(oo, oo.detectors())
		r, err := Refs(context.Background(), refs(t, "oci:"+a, "oci:"+b), o)
		if err != nil {
			t.Fatal(err)
		}
		n, all := 0, 0
		for k, c := range o.memo.searched {
			all += c
			if strings.HasPrefix(k, shared.String()+"\x00") {
				n += c
			}
		}
		if n != 1 || all != 3 {
			t.Fatalf("--jobs %d: the shared layer searched %d times, %d searches in all (want 1 and 3)", jobs, n, all)
		}
		if r.Coverage.ReusedLayers != 1 || r.Images[0].Coverage.ReusedLayers != 0 || r.Images[1].Coverage.ReusedLayers != 1 {
			t.Fatalf("--jobs %d: reused %+v", jobs, r.Images)
		}
		var js bytes.Buffer
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = js.Bytes()
		} else if !bytes.Equal(js.Bytes(), want) {
			t.Fatalf("--jobs %d: the report differs from --jobs 1:\n%s\n%s", jobs, js.Bytes(), want)
		}
	}
}

// TestRefsSharedBlobMissingFirst: the image without the shared blob named
// first still has the verdict of the other's copy: the report does not
// depend on which image reached the layer first.
func TestRefsSharedBlobMissingFirst(t *testing.T) {
	t.Parallel()
	a, b, shared, value := twoImages(t)
	if err := os.Remove(filepath.Join(b, "blobs", shared.Algorithm, shared.Hex)); err != nil {
		t.Fatal(err)
	}
	for _, jobs := range []int{1, 2} {
		r, err := Refs(context.Background(), refs(t, "oci:"+b, "oci:"+a), Options{Jobs: jobs, Values: []Value{{Name: "API_TOKEN", Value: []byte(value)}}})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Coverage.Complete || r.Images[0].Status != StatusFindings || r.Images[1].Status != StatusFindings || r.Images[1].Coverage.ReusedLayers != 1 {
			t.Fatalf("--jobs %d: %+v %v", jobs, r.Images, r.Coverage.Errors)
		}
	}
}
