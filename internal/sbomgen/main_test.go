package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An archive holding a real Go binary (the injector, built now) and a text
// file gives a CycloneDX SBOM naming the binary, its modules and its Go
// version; the same archive gives the same bytes twice.
func TestSBOM(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sealenv-inject")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "../../cmd/sealenv-inject")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	data, _ := os.ReadFile(bin)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range map[string][]byte{"sealenv-inject": data, "README.md": []byte("hello\n")} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	archive := filepath.Join(dir, "sealenv-inject_linux_amd64.tar.gz")
	os.WriteFile(archive, buf.Bytes(), 0o644)
	doc := filepath.Join(dir, "a.sbom.json")
	if err := run(archive, doc); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(doc)
	var b bom
	if err := json.Unmarshal(first, &b); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, c := range b.Components {
		names[c.Name] = c.PURL
	}
	if b.BOMFormat != "CycloneDX" || names["sealenv-inject"] == "" || !strings.HasPrefix(names["filippo.io/age"], "pkg:golang/filippo.io/age@v") || names["std"] == "" {
		t.Fatalf("components: %v", names)
	}
	if _, ok := names["README.md"]; ok {
		t.Error("a text file is listed as a binary")
	}
	if err := run(archive, doc); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(doc); !bytes.Equal(first, second) {
		t.Error("the SBOM of the same archive changed")
	}
}
