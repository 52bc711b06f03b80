package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWrapCLI runs sealenv wrap as a process: a clean wrap with --audit is
// written; bad input exits 2 and writes nothing.
func TestWrapCLI(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok(secret(t, "v")+"\n", "seal", "-r", r, "-o", "prod.env")
	c.ok(secret(t, "v"), "set", "prod.env", "API_TOKEN")
	inj := c.path("sealenv-inject")
	build := exec.Command("go", "build", "-o", inj, "github.com/sealenv/sealenv/cmd/sealenv-inject")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the injector: %s", out)
	}
	tool := exec.Command("go", "run", "github.com/sealenv/sealenv/examples/imagetool", "build", inj, c.path("app.tar"), "/app")
	if out, err := tool.CombinedOutput(); err != nil {
		t.Fatalf("building the image: %s", out)
	}
	res := c.ok("", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("out"), "--bundle", "prod.env", "--injector", inj, "--audit")
	if !strings.Contains(res.stderr, "audit: clean") {
		t.Errorf("stderr %q", res.stderr)
	}
	if _, err := os.Stat(c.path("out/index.json")); err != nil {
		t.Fatal("no OCI layout written")
	}
	// The existing destination is refused and left alone.
	c.fails("pass --force", "", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("out"), "--bundle", "prod.env", "--injector", inj)
	// A plaintext "bundle" is refused.
	os.WriteFile(c.path("plain.env"), []byte("API_TOKEN=x\n"), 0o644)
	c.fails("not sealed", "", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("out2"), "--bundle", "plain.env", "--injector", inj)
	// An injector for another architecture is refused.
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	c.fails("another architecture", "", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("out3"), "--bundle", "prod.env", "--injector", "linux/"+other+"="+inj)
	// An unreadable source.
	c.fails("missing.tar", "", "wrap", "docker-archive:"+c.path("missing.tar"), "oci:"+c.path("out4"), "--bundle", "prod.env", "--injector", inj)
	for _, d := range []string{"out2", "out3", "out4"} {
		if _, err := os.Stat(c.path(d)); err == nil {
			t.Errorf("%s written despite the error", d)
		}
	}
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".out") {
			t.Errorf("leftover %s", filepath.Join(c.dir, e.Name()))
		}
	}
}
