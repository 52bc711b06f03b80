package e2e

// `sealenv build` and BuildKit's cache (issue 22): a step that mounts a
// secret is keyed by the served value through a key only holders of the
// bundle have, so a build that serves other values (another bundle and
// identity, a rotated value) never reuses it, and the same values do;
// cache exports are audited like the image before anything reaches their
// destination, and a cache written by sealenv build is one BuildKit
// imports.

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// sealedFor makes a new identity and a bundle of values sealed to it (and
// to the extra recipients): its own data key. It returns the bundle and
// the identity's file.
func sealedFor(t *testing.T, f *Fixture, values map[string]string, extra ...string) (bundle, key, recipient string) {
	t.Helper()
	dir := t.TempDir()
	key = filepath.Join(dir, "key.txt")
	res := f.Run(t, dir, nil, nil, "keygen", "-o", key)
	if res.Code != 0 {
		t.Fatalf("sealenv keygen: exit %d: %s", res.Code, res.Stderr)
	}
	recipient = strings.TrimSpace(res.Stdout)
	var plain strings.Builder
	for _, k := range sortedKeys(values) {
		plain.WriteString(k + "=" + values[k] + "\n")
	}
	bundle = filepath.Join(dir, "build.env")
	args := []string{"seal", "-r", recipient}
	for _, r := range extra {
		args = append(args, "-r", r)
	}
	if res := f.Run(t, dir, []byte(plain.String()), nil, append(args, "-i", "-", "-o", bundle)...); res.Code != 0 {
		t.Fatalf("sealenv seal: exit %d: %s", res.Code, res.Stderr)
	}
	return bundle, key, recipient
}

// noValue fails t if s holds any of values (named, never shown).
func noValue(t *testing.T, what, s string, values map[string]string) {
	t.Helper()
	for n, v := range values {
		if strings.Contains(s, v) {
			t.Errorf("%s holds the value %s", what, n)
		}
	}
}

// stepCached reports whether the plain progress shows the step whose line
// holds needle as CACHED; found says the step is in the progress at all.
func stepCached(progress, needle string) (cached, found bool) {
	var id string
	for _, l := range strings.Split(progress, "\n") {
		if strings.Contains(l, needle) {
			if m := regexp.MustCompile(`^(#\d+) `).FindStringSubmatch(l); m != nil {
				id = m[1]
				break
			}
		}
	}
	if id == "" {
		return false, false
	}
	// A step that ran prints "probe: ran ..." (a log line "#6 0.153 ...");
	// one taken from the cache prints nothing: it says CACHED, or lists the
	// layers it pulled from an imported cache.
	ran := regexp.MustCompile(`(?m)^` + id + ` [0-9.]+ probe: ran `).MatchString(progress)
	return !ran, true
}

func (r SealBuildResult) wantCached(t *testing.T, needle string, want bool) {
	t.Helper()
	got, found := stepCached(r.Stderr, needle)
	if !found {
		t.Fatalf("no step %q in the progress:\n%s", needle, tail(r.Stderr, 30))
	}
	if got != want {
		t.Errorf("step %q cached=%v, want %v:\n%s", needle, got, want, tail(r.Stderr, 30))
	}
}

// tokenHash reads the hash the hash-env step wrote into the image at DEST.
func tokenHash(t *testing.T, r SealBuildResult, file string) string {
	t.Helper()
	a := ReadArchive(t, r.DestPath)
	cfg := a.Config(t)
	return string(a.LayerFiles(t, cfg.Layers[len(cfg.Layers)-1])[file])
}

func TestSealBuildCacheKeys(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	// The nonce makes the steps this test's own: cold in the shared
	// buildkitd whatever ran before.
	nonce := strings.ToLower(randomValue(t, 10))
	hashFile := "token-" + nonce
	hashDF := "FROM scratch\nCOPY probe /probe\nRUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN [\"/probe\", \"hash-env\", \"API_TOKEN\", \"/" + hashFile + "\"]\n"
	leakDF := "FROM scratch\nCOPY probe /probe\nRUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN [\"/probe\", \"save-env\", \"API_TOKEN\", \"/srv/leak-" + nonce + "\"]\n"

	va := map[string]string{"API_TOKEN": randomValue(t, 24)}
	vb := map[string]string{"API_TOKEN": randomValue(t, 24)}
	bundleA, keyA, recipA := sealedFor(t, f, va)
	bundleB, keyB, recipB := sealedFor(t, f, vb)
	all := map[string]string{"A": va["API_TOKEN"], "B": vb["API_TOKEN"]}
	build := func(t *testing.T, df, bundle, key string) SealBuildResult {
		t.Helper()
		r := sealBuild(t, e, f, SealBuild{Dockerfile: df, Bundle: bundle, Key: key})
		noValue(t, "sealenv build's output", r.Stdout+r.Stderr, all)
		return r
	}

	t.Run("identity A: built, the step runs", func(t *testing.T) {
		r := build(t, hashDF, bundleA, keyA)
		r.want(t, 0)
		r.wantCached(t, hashFile, false)
		if got := tokenHash(t, r, hashFile); got != sha256Hex(va["API_TOKEN"]) {
			t.Errorf("the image holds %q, want the hash of A's value", got)
		}
	})
	t.Run("identity A again: the same values hit the cache", func(t *testing.T) {
		r := build(t, hashDF, bundleA, keyA)
		r.want(t, 0)
		r.wantCached(t, hashFile, true)
		if got := tokenHash(t, r, hashFile); got != sha256Hex(va["API_TOKEN"]) {
			t.Errorf("the image holds %q, want the hash of A's value", got)
		}
	})
	t.Run("identity B with another bundle: the step runs again with B's value", func(t *testing.T) {
		r := build(t, hashDF, bundleB, keyB)
		r.want(t, 0)
		r.wantCached(t, hashFile, false)
		if got := tokenHash(t, r, hashFile); got != sha256Hex(vb["API_TOKEN"]) {
			t.Errorf("B's image holds %q, want the hash of B's value (not A's)", got)
		}
	})
	t.Run("after a rotate: the step runs again with the new value", func(t *testing.T) {
		rotated := randomValue(t, 24)
		all["A2"] = rotated
		if res := f.Run(t, filepath.Dir(bundleA), []byte(rotated+"\n"), nil, "set", "--identity", keyA, bundleA, "API_TOKEN"); res.Code != 0 {
			t.Fatalf("sealenv set: exit %d: %s", res.Code, res.Stderr)
		}
		r := build(t, hashDF, bundleA, keyA)
		r.want(t, 0)
		r.wantCached(t, hashFile, false)
		if got := tokenHash(t, r, hashFile); got != sha256Hex(rotated) {
			t.Errorf("the image holds %q, want the hash of the rotated value", got)
		}
	})
	t.Run("one bundle and two of its recipients: the same values hit the cache", func(t *testing.T) {
		shared, keyC, _ := sealedFor(t, f, map[string]string{"API_TOKEN": all["B"]}, recipA, recipB)
		_ = keyC
		r := build(t, hashDF, shared, keyA)
		r.want(t, 0)
		r.wantCached(t, hashFile, false) // its own data key: not B's bundle's entry
		r = build(t, hashDF, shared, keyB)
		r.want(t, 0)
		r.wantCached(t, hashFile, true)
	})
	t.Run("a leak refused for A is not B's to reuse", func(t *testing.T) {
		r := build(t, leakDF, bundleA, keyA)
		r.want(t, 1)
		r.noDest(t)
		// B's build runs the step with B's value: B's own audit finds it
		// (a reused layer would hold A's value, which B's audit does not
		// know, and would pass as clean).
		r = build(t, leakDF, bundleB, keyB)
		r.wantCached(t, "leak-"+nonce, false)
		r.want(t, 1)
		r.noDest(t)
		r.Report.Has(t, Want{Kind: "known-value", Secret: "API_TOKEN", Where: "layer", Path: "srv/leak-" + nonce, Encoding: "raw"})
	})
}

// leakyStageDF leaks the secret into an intermediate stage only: the image
// is clean, a mode=max cache export is not.
func leakyStageDF(nonce string) string {
	return "FROM scratch AS leak\nCOPY probe /probe\n" +
		"RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN [\"/probe\", \"save-env\", \"API_TOKEN\", \"/leak-" + nonce + "\"]\n" +
		"FROM scratch\nCOPY --from=leak /probe /probe\n"
}

func TestSealBuildCacheExport(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	manifest := func(repo, tag string) int {
		resp, err := http.Head(srv.URL + "/v2/" + repo + "/manifests/" + tag)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	nonce := strings.ToLower(randomValue(t, 10))
	// The subtests run one after the other: BuildKit v0.26.3 exporting
	// the cache of builds that share a step at the same time can leave an
	// intermediate stage out of a mode=max export (seen here), and the
	// subtests assert what an export holds.
	cleanDF := "FROM scratch\nCOPY probe /probe\nRUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN [\"/probe\", \"hash-env\", \"API_TOKEN\", \"/hash-" + nonce + "\"]\n"

	t.Run("a leak in an intermediate stage stops a mode=max export and the image", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "cache")
		r := sealBuild(t, e, f, SealBuild{Dockerfile: leakyStageDF(nonce), Flags: []string{
			"--cache-to", "type=local,dest=" + local + ",mode=max",
			"--cache-to", "type=registry,ref=" + host + "/leaky/cache:max,mode=max",
		}})
		r.want(t, 1)
		r.noDest(t)
		if _, err := os.Stat(local); err == nil {
			t.Errorf("the local cache %s was written", local)
		}
		if code := manifest("leaky/cache", "max"); code != http.StatusNotFound {
			t.Errorf("the registry answers %d for the cache: it was pushed", code)
		}
		found := map[string]bool{}
		for _, fd := range r.Report.Findings {
			if fd.Secret == "API_TOKEN" && strings.HasPrefix(fd.Image, "cache ") {
				found[fd.Image] = true
			}
			if fd.Where == "layer" {
				t.Errorf("a finding in the image, which is clean: %s", fd)
			}
		}
		if !found["cache type=local,dest="+local] || !found["cache type=registry,ref="+host+"/leaky/cache:max"] {
			t.Errorf("the findings do not name both caches: %v\n%s", found, r.Report)
		}
	})

	t.Run("mode=min exports only the image's own layers: written", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "cache")
		r := sealBuild(t, e, f, SealBuild{Dockerfile: leakyStageDF(nonce + "min"), Flags: []string{
			"--cache-to", "type=local,dest=" + local + ",mode=min"}})
		r.want(t, 0)
		if _, err := os.Stat(filepath.Join(local, "index.json")); err != nil {
			t.Errorf("the local cache was not written: %v", err)
		}
	})

	t.Run("clean exports are written and a BuildKit with an empty cache imports them", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "cache")
		ref := host + "/clean/cache:1"
		r := sealBuild(t, e, f, SealBuild{Dockerfile: cleanDF, Flags: []string{
			"--cache-to", "type=local,dest=" + local + ",mode=max",
			"--cache-to", "type=registry,ref=" + ref + ",mode=max"}})
		r.want(t, 0)
		if code := manifest("clean/cache", "1"); code != http.StatusOK {
			t.Fatalf("the registry answers %d for the pushed cache", code)
		}
		if !strings.Contains(r.Stderr, "cache type=local,dest="+local) || !strings.Contains(r.Stderr, "cache type=registry,ref="+ref) {
			t.Errorf("the result line does not name the caches written:\n%s", tail(r.Stderr, 3))
		}
		// Slow: a second buildkitd, so that nothing is cached but what is
		// imported.
		for _, from := range []string{"type=local,src=" + local, "type=registry,ref=" + ref} {
			addr := e.FreshBuildkitd(t)
			r := sealBuild(t, e, f, SealBuild{Dockerfile: cleanDF, Addr: addr, Flags: []string{"--cache-from", from}})
			r.want(t, 0)
			r.wantCached(t, "hash-"+nonce, true)
		}
	})
}
