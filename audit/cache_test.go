package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/internal/match"
)

// cacheImage is an image of three layers: one with a sealed value (in a
// file named after another), one with a rule's match, one clean.
type cacheImage struct {
	img           v1.Image
	value, secret string // the sealed value; a credential a rule finds
	name          string // a second sealed value, which names a file
}

func newCacheImage(t *testing.T) *cacheImage {
	c := &cacheImage{value: randString(t, alnum, 24), secret: "ghp_" + randString(t, alnum, 36), name: randString(t, alnum, 20)}
	c.img = image(t, v1.Config{}, nil,
		tarLayer(t, "gzip", file{"app/config.yaml", []byte("token: " + c.value + "\n")}, file{"app/" + c.name + ".txt", []byte("x")}),
		tarLayer(t, "zstd", file{"app/ci.sh", []byte("export GH=" + c.secret + "\n")}),
		tarLayer(t, "none", file{"etc/hosts", []byte("127.0.0.1 localhost\n")}),
	)
	return c
}

func (c *cacheImage) opts(cache *Cache) Options {
	return Options{Values: []Value{{Name: "API_TOKEN", Value: []byte(c.value)}, {Name: "FILE_NAME", Value: []byte(c.name)}}, Cache: cache}
}

func openCache(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func audited(t *testing.T, img v1.Image, o Options) *Report {
	t.Helper()
	r, err := Image(context.Background(), img, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// findingsJSON is the report's findings as written, for comparing a cold
// audit with one from the cache.
func findingsJSON(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return string(doc.Findings)
}

func TestCacheHit(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	cache := openCache(t, t.TempDir())
	cold := audited(t, c.img, c.opts(cache))
	if cold.Coverage.CachedLayers != 0 || cold.Coverage.Layers != 3 {
		t.Fatalf("cold audit: %+v", cold.Coverage)
	}
	if !has(cold, want{path: "app/config.yaml", secret: "API_TOKEN"}) || !has(cold, want{rule: "github-token"}) {
		t.Fatalf("cold audit missed a planted secret: %s", dump(t, cold))
	}
	warm := audited(t, c.img, c.opts(cache))
	if warm.Coverage.CachedLayers != 3 {
		t.Fatalf("re-audit: %d of 3 layers from the cache", warm.Coverage.CachedLayers)
	}
	// A cached finding is reported again, as it was.
	if got, want := findingsJSON(t, warm), findingsJSON(t, cold); got != want {
		t.Fatalf("findings from the cache differ:\n%s\nwant\n%s", got, want)
	}
	if warm.Coverage.Files != cold.Coverage.Files || warm.Coverage.Bytes != cold.Coverage.Bytes || !warm.Coverage.Complete {
		t.Fatalf("coverage from the cache %+v, cold %+v", warm.Coverage, cold.Coverage)
	}
	// The values given in another order search the same set.
	o := c.opts(cache)
	o.Values[0], o.Values[1] = o.Values[1], o.Values[0]
	if r := audited(t, c.img, o); r.Coverage.CachedLayers != 3 {
		t.Fatalf("values in another order: %d layers from the cache", r.Coverage.CachedLayers)
	}
	var text bytes.Buffer
	warm.WriteText(&text)
	if !strings.Contains(text.String(), "3 layers (3 from the verdict cache)") {
		t.Errorf("the text report does not say what came from the cache:\n%s", text.String())
	}
}

// TestCacheMiss changes each part of a verdict's key in turn: each
// change searches every layer again.
func TestCacheMiss(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	extra, err := rules.Parse("extra.yaml", []byte("version: extra-1\nrules:\n  - id: extra-rule\n    description: an extra rule\n    severity: high\n    keywords: [zzqx]\n    regex: 'zzqx[0-9]{8}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(o *Options){
		"a new value": func(o *Options) {
			o.Values = append(o.Values, Value{Name: "NEW", Value: []byte(randString(t, alnum, 20))})
		},
		"a changed value":    func(o *Options) { o.Values[0].Value = []byte(randString(t, alnum, 24)) },
		"a renamed value":    func(o *Options) { o.Values[0].Name = "RENAMED" },
		"a new rule":         func(o *Options) { o.Rules = rules.Default().Merge(extra) },
		"a severity":         func(o *Options) { o.Severity = rules.High },
		"a sealed name":      func(o *Options) { o.SealedNames = []string{"OTHER_KEY"} },
		"a depth":            func(o *Options) { o.MaxDepth = 3 },
		"a window":           func(o *Options) { o.MaxWindow = 64 << 20 },
		"a buffer":           func(o *Options) { o.MaxBuffer = 64 << 20 },
		"a sparse size":      func(o *Options) { o.MaxSparseSize = 1 << 30 },
		"a file check limit": func(o *Options) { o.MaxFileCheck = 1 << 20 },
	}
	for what, change := range cases {
		t.Run(what, func(t *testing.T) {
			t.Parallel()
			cache := openCache(t, t.TempDir())
			audited(t, c.img, c.opts(cache))
			o := c.opts(cache)
			change(&o)
			if r := audited(t, c.img, o); r.Coverage.CachedLayers != 0 {
				t.Fatalf("%d layers from the cache after %s", r.Coverage.CachedLayers, what)
			}
			// And the new verdicts are kept in turn.
			if r := audited(t, c.img, o); r.Coverage.CachedLayers != 3 {
				t.Fatalf("%d of 3 layers from the cache on the second audit with %s", r.Coverage.CachedLayers, what)
			}
		})
	}
	t.Run("a new layer", func(t *testing.T) {
		t.Parallel()
		cache := openCache(t, t.TempDir())
		audited(t, c.img, c.opts(cache))
		img := image(t, v1.Config{}, nil, tarLayer(t, "gzip", file{"app/config.yaml", []byte("token: " + c.value + "\n")}, file{"app/" + c.name + ".txt", []byte("x")}),
			tarLayer(t, "gzip", file{"new", []byte(randString(t, alnum, 30))}))
		r := audited(t, img, c.opts(cache))
		if r.Coverage.CachedLayers != 1 || !has(r, want{path: "app/config.yaml", secret: "API_TOKEN"}) {
			t.Fatalf("one layer shared with a cached image: %d from the cache; %s", r.Coverage.CachedLayers, dump(t, r))
		}
	})
	t.Run("the detector version", func(t *testing.T) {
		t.Parallel()
		o0 := c.opts(nil)
		o := o0.defaults()
		d := o.detectors()
		if bytes.Equal(o.verdictContextAt(d, DetectorVersion), o.verdictContextAt(d, DetectorVersion+1)) {
			t.Fatal("a new detector version keeps the verdicts of the old one")
		}
		if !bytes.Equal(o.verdictContext(d), o.defaults().verdictContext(o.detectors())) {
			t.Fatal("the same options and values make another key")
		}
	})
	t.Run("allowlists and formats do not change what is searched", func(t *testing.T) {
		t.Parallel()
		cache := openCache(t, t.TempDir())
		audited(t, c.img, c.opts(cache))
		o := c.opts(cache)
		o.Allow = []Allow{{Rule: "github-token", Reason: "test"}}
		o.Jobs = 1
		if r := audited(t, c.img, o); r.Coverage.CachedLayers != 3 {
			t.Fatalf("an allowlist made %d of 3 layers be searched again", 3-r.Coverage.CachedLayers)
		}
	})
}

// entries lists the files of a cache's entries.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "v1"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCacheDamagedEntry(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	damage := map[string]func([]byte) []byte{
		"a flipped byte in the findings": func(b []byte) []byte { b[len(b)-3] ^= 1; return b },
		"a flipped byte in the MAC":      func(b []byte) []byte { b[0] ^= 1; return b },
		"cut short":                      func(b []byte) []byte { return b[:len(b)/2] },
		"empty":                          func([]byte) []byte { return nil },
		"no MAC":                         func(b []byte) []byte { _, p, _ := bytes.Cut(b, []byte("\n")); return p },
		"clean findings, old MAC": func(b []byte) []byte {
			mac, p, _ := bytes.Cut(b, []byte("\n"))
			var cs cachedScan
			json.Unmarshal(p, &cs)
			cs.Hits, cs.Plain = nil, nil
			p, _ = json.Marshal(cs)
			return append(append(mac, '\n'), p...)
		},
	}
	for what, fn := range damage {
		t.Run(what, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cache := openCache(t, dir)
			cold := audited(t, c.img, c.opts(cache))
			files := entries(t, dir)
			if len(files) != 3 {
				t.Fatalf("%d entries for 3 layers", len(files))
			}
			changed := 0
			for _, p := range files {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				nb := fn(bytes.Clone(b))
				if !bytes.Equal(nb, b) {
					changed++
				}
				if err := os.WriteFile(p, nb, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// The clean layer's entry has no finding to drop: it may stay
			// as it was, and be trusted.
			if changed < 2 {
				t.Fatalf("the damage changed %d entries", changed)
			}
			r := audited(t, c.img, c.opts(cache))
			if r.Coverage.CachedLayers != 3-changed {
				t.Fatalf("%d damaged entries trusted", r.Coverage.CachedLayers-(3-changed))
			}
			if findingsJSON(t, r) != findingsJSON(t, cold) {
				t.Fatalf("a damaged cache changed the findings: %s", dump(t, r))
			}
			// Searched again, the verdicts are kept again.
			if r := audited(t, c.img, c.opts(cache)); r.Coverage.CachedLayers != 3 {
				t.Fatalf("%d of 3 layers from the repaired cache", r.Coverage.CachedLayers)
			}
		})
	}
}

// TestCacheForeignEntry puts entries where the audit looks that it did
// not write: those of another cache (another key), and the verdict of a
// clean layer under the name of a dirty one.
func TestCacheForeignEntry(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	ctx := context.Background()
	layers, err := c.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]*layerJob, len(layers))
	for i, l := range layers {
		dg, _ := l.Digest()
		jobs[i] = &layerJob{index: i, digest: dg.String()}
	}
	view := func(cache *Cache) *verdictCache {
		o0 := c.opts(cache)
		o := o0.defaults()
		return o.verdictCache(o.detectors())
	}

	t.Run("another cache's entries", func(t *testing.T) {
		t.Parallel()
		a, b := openCache(t, t.TempDir()), openCache(t, t.TempDir())
		cold := audited(t, c.img, c.opts(a))
		va, vb := view(a), view(b)
		for _, j := range jobs {
			data, err := os.ReadFile(va.path(va.name(j)))
			if err != nil {
				t.Fatal(err)
			}
			p := vb.path(vb.name(j))
			os.MkdirAll(filepath.Dir(p), 0o700)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r, err := Image(ctx, c.img, c.opts(b))
		if err != nil {
			t.Fatal(err)
		}
		if r.Coverage.CachedLayers != 0 || findingsJSON(t, r) != findingsJSON(t, cold) {
			t.Fatalf("entries of another cache were trusted: %d layers; %s", r.Coverage.CachedLayers, dump(t, r))
		}
	})
	t.Run("a clean verdict under a dirty layer's name", func(t *testing.T) {
		t.Parallel()
		cache := openCache(t, t.TempDir())
		audited(t, c.img, c.opts(cache))
		v := view(cache)
		clean, err := os.ReadFile(v.path(v.name(jobs[2])))
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs[:2] {
			if err := os.WriteFile(v.path(v.name(j)), clean, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r := audited(t, c.img, c.opts(cache))
		if r.Coverage.CachedLayers != 1 || !has(r, want{path: "app/config.yaml", secret: "API_TOKEN"}) || !has(r, want{rule: "github-token"}) {
			t.Fatalf("a moved entry was trusted: %d layers from the cache; %s", r.Coverage.CachedLayers, dump(t, r))
		}
	})
}

// TestCacheHoldsNoValue reads every file of a cache for the values in
// every form the audit searches, and for the rule's match.
func TestCacheHoldsNoValue(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	dir := t.TempDir()
	cold := audited(t, c.img, c.opts(openCache(t, dir)))
	if len(cold.Findings) < 3 {
		t.Fatalf("the image has fewer findings than planted: %s", dump(t, cold))
	}
	var forms [][]byte
	for _, v := range []string{c.value, c.name} {
		for _, f := range match.Forms([]byte(v)) {
			forms = append(forms, f.Text)
		}
	}
	forms = append(forms, []byte(c.secret), []byte(c.secret[4:20]))
	for _, p := range entries(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range forms {
			if bytes.Contains(b, f) {
				t.Fatalf("cache entry %s holds a secret in one of its forms", filepath.Base(p))
			}
		}
	}
	st, err := os.Stat(filepath.Join(dir, cacheKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the cache's key: %v, %v", st, err)
	}
}

// TestCacheConcurrent runs audits at once on one new cache directory,
// each opening it (so that they race to make its key): all agree, and
// what they left is trusted by the next.
func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	dir := t.TempDir()
	want := findingsJSON(t, audited(t, c.img, c.opts(nil)))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache, err := OpenCache(dir)
			if err != nil {
				errs <- err.Error()
				return
			}
			r, err := Image(context.Background(), c.img, c.opts(cache))
			if err != nil {
				errs <- err.Error()
				return
			}
			if got := findingsJSON(t, r); got != want || !r.Coverage.Complete {
				errs <- "an audit beside others found something else: " + got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	r := audited(t, c.img, c.opts(openCache(t, dir)))
	if r.Coverage.CachedLayers != 3 || findingsJSON(t, r) != want {
		t.Fatalf("after concurrent writers: %d of 3 layers from the cache; %s", r.Coverage.CachedLayers, dump(t, r))
	}
	for _, p := range entries(t, dir) {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("a temporary file was left: %s", p)
		}
	}
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	for what, setup := range map[string]func(key string){
		"a damaged key":  func(key string) { os.WriteFile(key, []byte("short"), 0o600) },
		"a readable key": func(key string) { os.Chmod(key, 0o644) },
		"another user's key": func(key string) {
			if err := os.Chown(key, 65534, 65534); err != nil {
				t.Skip("cannot give the key to another user:", err)
			}
		},
	} {
		t.Run(what, func(t *testing.T) {
			t.Parallel()
			if what == "another user's key" && (os.Getuid() != 0 || runtime.GOOS == "windows") {
				t.Skip("only root can give a file to another user")
			}
			dir := t.TempDir()
			openCache(t, dir)
			key := filepath.Join(dir, cacheKeyFile)
			setup(key)
			_, err := OpenCache(dir)
			if err == nil || !strings.Contains(err.Error(), "remove the directory") || !strings.Contains(err.Error(), dir) {
				t.Fatalf("OpenCache with %s: %v", what, err)
			}
		})
	}
}

// BenchmarkCache audits an image of two gzip layers of the Go tree cold
// (no cache) and again from a warm verdict cache; warm/cold is the share
// of the cold audit a re-audit costs (target: under 0.05).
func BenchmarkCache(b *testing.B) {
	var layers []v1.Layer
	for _, sub := range []string{"src/net", "src/crypto"} {
		layers = append(layers, tarLayer(b, "gzip", goTreeFiles(b, sub)...))
	}
	img := image(b, v1.Config{}, nil, layers...)
	values := []Value{{Name: "V", Value: []byte(randString(b, alnum, 24))}}
	run := func(cache *Cache) time.Duration {
		start := time.Now()
		r, err := Image(context.Background(), img, Options{Values: values, Cache: cache})
		if err != nil || !r.Coverage.Complete {
			b.Fatal(err, r.Coverage.Errors)
		}
		return time.Since(start)
	}
	cache, err := OpenCache(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	run(cache) // fill the cache
	var cold, warm time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cold += run(nil)
		warm += run(cache)
	}
	b.ReportMetric(float64(cold.Microseconds())/float64(b.N)/1000, "cold-ms/op")
	b.ReportMetric(float64(warm.Microseconds())/float64(b.N)/1000, "warm-ms/op")
	b.ReportMetric(float64(warm)/float64(cold), "warm/cold")
}

// TestCacheDockerSave: a docker save archive names its layers by path; one
// stored uncompressed is cached by its diff ID (the digest of its bytes),
// one stored compressed is searched every time (its diff ID says nothing
// of the compressed bytes).
func TestCacheDockerSave(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	img := image(t, v1.Config{}, nil,
		tarLayer(t, "none", file{"app/config.yaml", []byte("token: " + c.value + "\n")}),
		tarLayer(t, "gzip", file{"etc/hosts", []byte("127.0.0.1 localhost\n")}),
	)
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(p, mustTag(t, "example.com/app:1"), img); err != nil {
		t.Fatal(err)
	}
	o := c.opts(openCache(t, t.TempDir()))
	cold, err := imageAt(context.Background(), "docker-archive:"+p, o)
	if err != nil {
		t.Fatal(err)
	}
	warm, err := imageAt(context.Background(), "docker-archive:"+p, o)
	if err != nil {
		t.Fatal(err)
	}
	if cold.Coverage.CachedLayers != 0 || warm.Coverage.CachedLayers != 1 || findingsJSON(t, warm) != findingsJSON(t, cold) || !has(warm, want{path: "app/config.yaml", secret: "API_TOKEN"}) {
		t.Fatalf("docker save: %d then %d layers from the cache; %s", cold.Coverage.CachedLayers, warm.Coverage.CachedLayers, dump(t, warm))
	}
	// The same layer in an OCI layout is the same verdict.
	dir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}))
	r, err := imageAt(context.Background(), "oci:"+dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Coverage.CachedLayers != 1 {
		t.Fatalf("the OCI layout of the same image: %d layers from the cache", r.Coverage.CachedLayers)
	}
}

// TestCacheEntryInUse: an entry an audit reads is made young again, so
// that pruning by modification time keeps it.
func TestCacheEntryInUse(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	dir := t.TempDir()
	cache := openCache(t, dir)
	audited(t, c.img, c.opts(cache))
	old := time.Now().Add(-90 * 24 * time.Hour)
	files := entries(t, dir)
	for _, p := range files {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if r := audited(t, c.img, c.opts(cache)); r.Coverage.CachedLayers != 3 {
		t.Fatalf("%d of 3 layers from the cache", r.Coverage.CachedLayers)
	}
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.ModTime().Before(time.Now().Add(-time.Hour)) {
			t.Errorf("an entry in use kept its old time %v", st.ModTime())
		}
	}
}

// TestCacheNewLayerSearched: what a re-audit from the cache does not run is
// made on first use (the rules' regexes, the walker's tables), and a layer
// it must search gets all of it. An image of the three cached layers and a
// new one, audited with a rule set whose regexes were never compiled:
// three layers from the cache, the new one searched, and both its planted
// value (base64, in a gzip layer) and its credential (a rule's match, in
// a tar.gz inside it) found beside the cached findings.
func TestCacheNewLayerSearched(t *testing.T) {
	t.Parallel()
	c := newCacheImage(t)
	cache := openCache(t, t.TempDir())
	audited(t, c.img, c.opts(cache))
	o := c.opts(cache)
	o.Rules = rules.Default()
	if r := audited(t, c.img, o); r.Coverage.CachedLayers != 3 {
		t.Fatalf("re-audit: %d of 3 layers from the cache", r.Coverage.CachedLayers)
	}
	secret := "ghp_" + randString(t, alnum, 36)
	inner := gz(t, tarBytes(t, file{"deploy/ci.sh", []byte("export GH=" + secret + "\n")}))
	img, err := mutate.AppendLayers(c.img, tarLayer(t, "gzip",
		file{"srv/token.b64", []byte(base64.StdEncoding.EncodeToString([]byte(c.value)) + "\n")},
		file{"srv/bundle.tar.gz", inner},
	))
	if err != nil {
		t.Fatal(err)
	}
	o.Rules = rules.Default()
	r := audited(t, img, o)
	if r.Coverage.Layers != 4 || r.Coverage.CachedLayers != 3 || !r.Coverage.Complete {
		t.Fatalf("coverage %+v", r.Coverage)
	}
	for _, w := range []want{
		{kind: "known-value", secret: "API_TOKEN", path: "srv/token.b64", encoding: "base64"},
		{kind: "rule", rule: "github-token", path: "srv/bundle.tar.gz!/deploy/ci.sh"},
		{kind: "known-value", secret: "API_TOKEN", path: "app/config.yaml"},
		{kind: "rule", rule: "github-token", path: "app/ci.sh"},
	} {
		if !has(r, w) {
			t.Errorf("missing %+v in %s", w, dump(t, r))
		}
	}
}
