package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditCacheCLI(t *testing.T) {
	c := newParallelCLI(t)
	dbPass := sealDBPassword(t, c)
	writeLayoutImage(t, c.path("leak"), testImage(t, map[string]string{"app/config": "password: " + dbPass}))

	cached := func(args ...string) (int, int) {
		t.Helper()
		r := c.run("", append([]string{"audit", "image", "--bundle", "prod.env", "--format", "json"}, append(args, "oci:leak")...)...)
		var rep struct {
			Findings []map[string]any `json:"findings"`
			Coverage struct {
				CachedLayers int `json:"cached_layers"`
			} `json:"coverage"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		// A finding from the cache is a finding: exit 1 every time.
		if r.code != 1 || len(rep.Findings) != 1 || rep.Findings[0]["secret"] != "DB_PASSWORD" {
			t.Fatalf("exit %d, findings %v", r.code, rep.Findings)
		}
		if strings.Contains(r.stdout+r.stderr, dbPass) {
			t.Fatal("the report holds the value")
		}
		return rep.Coverage.CachedLayers, r.code
	}
	// The default cache is under $XDG_CACHE_HOME (here $HOME/.cache).
	if n, _ := cached(); n != 0 {
		t.Fatalf("cold audit: %d layers from the cache", n)
	}
	if n, _ := cached(); n != 1 {
		t.Fatalf("re-audit: %d layers from the default cache", n)
	}
	if n, _ := cached("--no-cache"); n != 0 {
		t.Fatalf("--no-cache: %d layers from the cache", n)
	}
	dir := c.path("shared-cache")
	if n, _ := cached("--cache", dir); n != 0 {
		t.Fatalf("a new --cache: %d layers from it", n)
	}
	if n, _ := cached("--cache", dir); n != 1 {
		t.Fatalf("--cache: %d layers from it", n)
	}
	// Nothing in the cache holds the value.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(dbPass)) {
				t.Errorf("%s holds the value", p)
			}
		}
		return err
	})
	// The text report says it.
	r := c.run("", "audit", "image", "--bundle", "prod.env", "--cache", dir, "oci:leak")
	if r.code != 1 || !strings.Contains(r.stdout, "1 layers (1 from the verdict cache)") {
		t.Fatalf("exit %d: %s", r.code, r.stdout)
	}
	c.fails("--cache and --no-cache: choose one", "", "audit", "image", "--cache", dir, "--no-cache", "oci:leak")
	os.WriteFile(filepath.Join(dir, "key"), []byte("damaged"), 0o600)
	c.fails("--cache: verdict cache "+dir+": its key", "", "audit", "image", "--bundle", "prod.env", "--cache", dir, "oci:leak")
}
