package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (review the diff)")

// golden compares got with testdata/name, or with -update writes it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/sealenv -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./cmd/sealenv -run %s -update rewrites it; review the diff):\n%s", path, t.Name(), got)
	}
}

var fingerprint = regexp.MustCompile(`"[0-9a-f]{32}"`)

// toolVersion is the version of sealenv in a report: the test binary's.
var toolVersion = regexp.MustCompile(`("(?:semanticVersion|version)": )"` + regexp.QuoteMeta(version) + `"`)

// TestReportsGolden: the JSON and SARIF reports of check and scan, through
// the CLI, one golden file each. What a run generates is replaced by
// placeholders: its keys, its directory, the version of the test binary
// and finding fingerprints (they hash the generated values); the values
// themselves must not appear at all.
func TestReportsGolden(t *testing.T) {
	c := newParallelCLI(t)
	alice, bob := c.keygen("alice.txt"), c.keygen("bob.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	// The prod bundle is wrapped to bob too, before the policy (which no
	// longer lists him) exists: a write under the policy would refuse it.
	token, extra := secret(t, "token"), secret(t, "extra")
	c.ok("API_TOKEN="+token+"\nEXTRA="+extra+"\n", "seal", "-r", alice, "-r", bob, "-i", "-", "-o", "secrets/prod.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\n"+
		"keys:\n  API_TOKEN: {required: true, min_length: 20}\n  DB_URL: {required: true}\n"+
		"environments:\n"+
		"  - {name: prod, bundle: secrets/prod.env, recipients: [{key: "+alice+", owner: alice}]}\n"+
		"  - {name: staging, bundle: secrets/staging.env, recipients: [{key: "+alice+", owner: alice}]}\n"+
		"  - {name: qa, bundle: secrets/qa.env, recipients: [{key: "+alice+", owner: alice}]}\n"), 0o644)
	os.WriteFile(c.path("secrets/staging.env"), []byte("DB_URL=postgres://db:5432/app\n"), 0o644)
	// A credential a rule finds, and a sealed value in plain sight.
	os.WriteFile(c.path("config.txt"), []byte("token = \"ghp_"+rand.Text()+rand.Text()[:10]+"\"\n"), 0o644)
	os.WriteFile(c.path("leak.txt"), []byte("export EXTRA="+extra+"\n"), 0o644)

	normal := func(out string) []byte {
		for _, v := range []string{token, extra} {
			if strings.Contains(out, v) {
				t.Fatal("a report holds a sealed value")
			}
		}
		out = strings.ReplaceAll(out, c.dir, "<dir>")
		out = strings.ReplaceAll(out, alice, "<alice>")
		out = strings.ReplaceAll(out, bob, "<bob>")
		out = toolVersion.ReplaceAllString(out, `$1"<version>"`)
		return fingerprint.ReplaceAllLiteral([]byte(out), []byte(`"<fingerprint>"`))
	}
	for _, format := range []string{"json", "sarif"} {
		r := c.run("", "check", "--format", format)
		if r.code != 1 {
			t.Fatalf("check --format %s: exit %d: %s", format, r.code, r.stderr)
		}
		golden(t, "reports/check."+format, normal(r.stdout))
	}
	// scan searches every bundle of the policy: all must be there.
	c.ok("", "seal", "--env", "qa")
	for _, format := range []string{"json", "sarif"} {
		r := c.run("", "scan", "--format", format, "config.txt", "leak.txt", "secrets")
		if r.code != 1 {
			t.Fatalf("scan --format %s: exit %d: %s", format, r.code, r.stderr)
		}
		golden(t, "reports/scan."+format, normal(r.stdout))
	}
}
