package audit

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The data entry points give what the transports give: an index held in
// memory is audited like the same index written to a layout.
func TestImageAndIndexValues(t *testing.T) {
	t.Parallel()
	p := plant(t)
	ctx := context.Background()
	r, err := Index(ctx, p.index, Options{Values: p.values, ShortAccepted: p.short})
	if err != nil {
		t.Fatal(err)
	}
	check(t, r, p, layerWants, configWants, indexWants)
	if r.Coverage.Attestations != 1 || len(r.Provenance) != 1 {
		t.Errorf("coverage %+v", r.Coverage)
	}
	r, err = Image(ctx, p.img, Options{Values: p.values, ShortAccepted: p.short})
	if err != nil {
		t.Fatal(err)
	}
	check(t, r, p, layerWants, configWants)
}

// docker-archive:FILE:NAME:TAG audits the image of that name only, as
// docker load would pick it; a name the archive does not hold is an error.
func TestDockerArchiveName(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	clean := image(t, v1.Config{}, nil, tarLayer(t, "none", file{"a.txt", []byte("nothing")}))
	dirty := image(t, v1.Config{}, nil, tarLayer(t, "none", file{"a.txt", []byte(tok)}))
	p := filepath.Join(t.TempDir(), "two.tar")
	refs := map[name.Reference]v1.Image{mustTag(t, "example.com/clean:1"): clean, mustTag(t, "example.com/dirty:1"): dirty}
	if err := tarball.MultiRefWriteToFile(p, refs); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for ref, want := range map[string]int{"docker-archive:" + p: 1, "docker-archive:" + p + ":example.com/clean:1": 0, "docker-archive:" + p + ":example.com/dirty:1": 1} {
		r, err := imageAt(ctx, ref, Options{})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if len(r.Findings) != want || !r.Coverage.Complete {
			t.Errorf("%s: %d findings, want %d (%+v)", ref, len(r.Findings), want, r.Coverage)
		}
	}
	if _, err := imageAt(ctx, "docker-archive:"+p+":example.com/other:1", Options{}); err == nil || !strings.Contains(err.Error(), "no image named") {
		t.Errorf("unknown name: %v", err)
	}
}

// Files: lines in a file's own bytes, places inside a compressed file and a
// zip, plaintext secrets files, and what cannot be read is incomplete.
func TestFiles(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	val := randString(t, alnum, 24)
	dir := t.TempDir()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("conf/app.ini")
	w.Write([]byte("[x]\ntoken = " + tok + "\n"))
	zw.Close()
	files := map[string][]byte{
		"src/main.go":  []byte("package main\n\n// " + val + "\n"),
		"notes.txt.gz": gz(t, []byte("line\nline\n"+tok+"\n")),
		"lib/app.jar":  zb.Bytes(),
		"deploy/.env":  []byte("# prod\nDATABASE_PASSWORD=" + randString(t, alnum, 20) + "\n"),
		"README.md":    []byte("nothing to see\n"),
	}
	var fs []File
	for n, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o600)
		fs = append(fs, File{Path: n, Open: func() (io.ReadCloser, error) { return os.Open(p) }})
	}
	fs = append(fs, File{Path: "gone.txt", Open: func() (io.ReadCloser, error) { return os.Open(filepath.Join(dir, "gone.txt")) }})
	r, err := Files(context.Background(), fs, Options{Values: []Value{{Name: "SEALED", Value: []byte(val)}}})
	if err != nil {
		t.Fatal(err)
	}
	type loc struct {
		path string
		line int
	}
	got := map[loc]string{}
	for _, f := range r.Findings {
		if f.Where != "file" {
			t.Errorf("where %q", f.Where)
		}
		got[loc{f.Path, f.Line}] = f.Rule
	}
	for l, rule := range map[loc]string{
		{"src/main.go", 3}:               "sealed-value",
		{"notes.txt.gz", 0}:              "github-token", // a line of the decompressed content is not a line of the file
		{"lib/app.jar!/conf/app.ini", 0}: "github-token",
		{"deploy/.env", 0}:               "plaintext-bundle",
	} {
		if got[l] != rule {
			t.Errorf("%v: got %q, want %q (all: %v)", l, got[l], rule, got)
		}
	}
	if r.Coverage.Complete || !strings.Contains(strings.Join(r.Coverage.Errors, " "), "gone.txt") {
		t.Errorf("an unreadable file is not incomplete: %+v", r.Coverage)
	}
	noValues(t, r, tok, val)
}
