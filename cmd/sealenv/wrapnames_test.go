package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/sealenv/sealenv/wrap"
)

// TestWrapCarriesDeclaredNames: an environment whose keys the policy
// declares (keys:, required:) is wrapped with its list: the entrypoint runs
// the injector with --names, and a bundle that holds an undeclared key is
// refused at wrap time, naming it, with nothing written.
func TestWrapCarriesDeclaredNames(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+r+"}], required: [API_TOKEN]}\n"+
		"keys:\n  DB_URL: {}\n"), 0o644)
	c.ok("API_TOKEN="+secret(t, "tok")+"\nDB_URL="+secret(t, "db")+"\n", "seal", "--env", "prod", "-i", "-")
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
	c.ok("", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("out"), "--env", "prod", "--bundle", "prod.env", "--injector", inj)
	p, err := layout.FromPath(c.path("out"))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, _ := idx.IndexManifest()
	img, err := p.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if got := strings.Join(cf.Config.Entrypoint, " "); !strings.Contains(got, "--names "+wrap.NamesPath) {
		t.Errorf("entrypoint %q has no --names", got)
	}
	if !strings.HasPrefix(cf.Config.Labels[wrap.LabelNames], "sha256:") {
		t.Errorf("no %s label", wrap.LabelNames)
	}
	// An undeclared key: refused, nothing written.
	c.ok(secret(t, "x")+"\n", "set", "prod.env", "EXTRA_FLAG")
	c.fails("key EXTRA_FLAG is not among the names the policy declares", "", "wrap", "docker-archive:"+c.path("app.tar"), "oci:"+c.path("out2"), "--env", "prod", "--bundle", "prod.env", "--injector", inj)
	if _, err := os.Stat(c.path("out2")); err == nil {
		t.Error("out2 written despite the refusal")
	}
}
