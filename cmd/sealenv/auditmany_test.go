package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestAuditManyCLI(t *testing.T) {
	c := newParallelCLI(t)
	dbPass := sealDBPassword(t, c)
	writeLayoutImage(t, c.path("leak"), testImage(t, map[string]string{"app/config": "password: " + dbPass}))
	writeLayoutImage(t, c.path("clean"), testImage(t, map[string]string{"etc/motd": "hello"}))

	type report struct {
		Findings []struct {
			Source string `json:"source"`
			Secret string `json:"secret"`
		} `json:"findings"`
		Images []struct {
			Source string `json:"source"`
			Status string `json:"status"`
		} `json:"images"`
		Coverage struct {
			Complete bool `json:"complete"`
		} `json:"coverage"`
	}
	parse := func(s string) report {
		t.Helper()
		var r report
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		return r
	}
	// Two sources, one report: exit 1 for the one with a finding.
	r := c.run("", "audit", "image", "--no-cache", "--bundle", "prod.env", "--format", "json", "oci:clean", "oci:leak")
	rep := parse(r.stdout)
	if r.code != 1 || len(rep.Images) != 2 || rep.Images[0].Status != "clean" || rep.Images[1].Status != "findings" ||
		len(rep.Findings) != 1 || rep.Findings[0].Source != "oci:leak" {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	// The images are audited at once: the report is the same bytes with
	// one job and with four, in each format.
	for _, format := range []string{"text", "json", "sarif"} {
		one := c.run("", "audit", "image", "--no-cache", "--jobs", "1", "--bundle", "prod.env", "--format", format, "oci:clean", "oci:leak", "oci:clean")
		four := c.run("", "audit", "image", "--no-cache", "--jobs", "4", "--bundle", "prod.env", "--format", format, "oci:clean", "oci:leak", "oci:clean")
		if one.code != 1 || four.code != 1 || one.stdout != four.stdout || one.stdout == "" {
			t.Fatalf("--format %s: --jobs 1 exit %d, --jobs 4 exit %d:\n%s\n%s", format, one.code, four.code, one.stdout, four.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, dbPass) {
		t.Fatal("the report holds the value")
	}
	// --from, with comments, and standard input.
	os.WriteFile(c.path("images.txt"), []byte("# the fleet\noci:clean\n\n"), 0o644)
	r = c.run("", "audit", "image", "--no-cache", "--bundle", "prod.env", "--format", "json", "--from", "images.txt")
	if rep := parse(r.stdout); r.code != 0 || len(rep.Images) != 1 || rep.Images[0].Source != "oci:clean" {
		t.Fatalf("--from: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = c.run("oci:leak\n", "audit", "image", "--no-cache", "--bundle", "prod.env", "--format", "json", "--from", "-", "oci:clean")
	if rep := parse(r.stdout); r.code != 1 || len(rep.Images) != 2 {
		t.Fatalf("--from -: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	// A source that cannot be opened: exit 2, the others still audited.
	os.Mkdir(c.path("empty"), 0o755)
	r = c.run("", "audit", "image", "--no-cache", "--bundle", "prod.env", "--format", "json", "oci:empty", "oci:leak")
	if rep := parse(r.stdout); r.code != 2 || rep.Coverage.Complete || len(rep.Images) != 2 || rep.Images[0].Status != "incomplete" || rep.Images[1].Status != "findings" {
		t.Fatalf("a missing source: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	os.WriteFile(c.path("bad.txt"), []byte("oci:clean\ndokcer-archive:x\n"), 0o644)
	c.fails("--from bad.txt: line 2", "", "audit", "image", "--from", "bad.txt")
	c.fails("usage: sealenv audit image", "", "audit", "image")
	// A path that is not there is a mistake on the command line: nothing
	// is audited.
	c.fails("no such file", "", "audit", "image", "oci:leak", "missing.tar")
	c.fails("--attest attests one image", "", "audit", "image", "--attest", "att.json", "oci:clean", "oci:leak")

	// Shards: one report each, then merge; the exit status is the worst.
	c.ok("", "audit", "image", "--no-cache", "--bundle", "prod.env", "--format", "json", "-o", "clean.json", "oci:clean")
	if r := c.run("", "audit", "image", "--no-cache", "--bundle", "prod.env", "--format", "json", "-o", "leak.json", "oci:leak"); r.code != 1 {
		t.Fatalf("shard: exit %d: %s", r.code, r.stderr)
	}
	c.ok("", "audit", "merge", "clean.json", "clean.json")
	r = c.run("", "audit", "merge", "--format", "json", "clean.json", "leak.json")
	if rep := parse(r.stdout); r.code != 1 || len(rep.Images) != 2 || rep.Findings[0].Source != "oci:leak" {
		t.Fatalf("merge: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = c.run("", "audit", "merge", "--format", "sarif", "clean.json", "leak.json")
	if r.code != 1 || !strings.Contains(r.stdout, `"source": "oci:leak"`) {
		t.Fatalf("merge to SARIF: exit %d: %s", r.code, r.stdout)
	}
	r = c.run("", "audit", "merge", "clean.json", "leak.json")
	if r.code != 1 || !strings.Contains(r.stdout, "image oci:leak: findings (1 findings") {
		t.Fatalf("merge to text: exit %d: %s", r.code, r.stdout)
	}
	os.WriteFile(c.path("inc.json"), []byte(`{"tool":"sealenv","source":"oci:x","findings":[],"coverage":{"complete":false,"errors":["layer 0: truncated"]}}`), 0o644)
	r = c.run("", "audit", "merge", "clean.json", "leak.json", "inc.json")
	if r.code != 2 || !strings.Contains(r.stderr, "oci:x: layer 0: truncated") {
		t.Fatalf("merge with an incomplete shard: exit %d: %s", r.code, r.stderr)
	}
	os.WriteFile(c.path("other.json"), []byte(`{"tool":"gitleaks"}`), 0o644)
	c.fails("other.json: not a sealenv JSON report", "", "audit", "merge", "clean.json", "other.json")
	c.fails("missing.json", "", "audit", "merge", "missing.json")
	c.fails("usage: sealenv audit merge", "", "audit", "merge")
}
