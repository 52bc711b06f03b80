package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A zstd frame that needs a larger window than --max-window allows is
// incomplete (exit 2): the report names the file and the limit, stderr
// the flag that raises it; with the flag raised the secret is found.
func TestAuditWindowLimit(t *testing.T) {
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
			t.Fatal("zstd is not installed")
		}
		t.Skip("zstd is not installed")
	}
	c := newParallelCLI(t)
	// A GitHub token shape, made at test time.
	raw := make([]byte, 36)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for i := range raw {
		raw[i] = alnum[int(raw[i])%len(alnum)]
	}
	tok := "ghp_" + string(raw)
	cmd := exec.Command(zstd, "--long=31", "-q", "-c") // from a pipe: the frame keeps its 2 GiB window
	cmd.Stdin = strings.NewReader("settings\ntoken: " + tok + "\n")
	frame, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "srv/big.log.zst", Mode: 0o644, Size: int64(len(frame)), Typeflag: tar.TypeReg})
	tw.Write(frame)
	tw.Close()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(layer.Bytes(), types.DockerUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(c.path("img.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	r := c.run("", "audit", "image", "img.tar")
	if r.code != 2 || !strings.Contains(r.stdout, "srv/big.log.zst: zstd needs a window of 2 GiB, beyond the window limit of 128 MiB") {
		t.Fatalf("exit %d: %s", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "hint: --max-window SIZE raises the window limit") {
		t.Fatalf("stderr does not name the flag: %q", r.stderr)
	}
	r = c.run("", "audit", "image", "--max-window", "2GiB", "img.tar")
	if r.code != 1 || !strings.Contains(r.stdout, "github-token") || strings.Contains(r.stdout+r.stderr, tok) {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	c.fails(`--max-window: "0": want a positive number`, "", "audit", "image", "--max-window", "0", "img.tar")
	c.fails(`--max-buffer: "1XB": unknown unit`, "", "audit", "image", "--max-buffer", "1XB", "img.tar")
}
