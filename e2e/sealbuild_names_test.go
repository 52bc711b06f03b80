package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSealBuildDeclaredNames: sealenv build --names-env ENV writes the
// names the policy declares for ENV to /etc/sealenv/names in the image it
// builds (one build), and the image's injector, whose entrypoint is the
// Dockerfile's and passes no --names, reads that file: the fixture's
// bundle, which also holds the undeclared DATABASE_URL, is refused with
// exit 125 naming the key and the file; a bundle of declared names only
// starts the command. An environment that declares no key is an error
// before BuildKit is contacted.
func TestSealBuildDeclaredNames(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	dir := t.TempDir()
	policy := filepath.Join(dir, "sealenv.yaml")
	writeFile(t, policy, []byte("version: 1\nenvironments:\n"+
		"  - {name: prod, bundle: prod.env, recipients: [{key: "+f.Recipient+", owner: ci}], required: [API_TOKEN]}\n"+
		"  - {name: dev, bundle: dev.env, recipients: [{key: "+f.Recipient+", owner: ci}]}\n"), 0o644)
	copyFile(t, f.Bundle, filepath.Join(dir, "prod.env"))
	copyFile(t, f.Bundle, filepath.Join(dir, "dev.env"))
	bundle, err := os.ReadFile(f.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := `FROM scratch
COPY probe /probe
COPY --chmod=0755 sealenv-inject /sealenv-inject
COPY prod.env /etc/sealenv/bundle.env
ENTRYPOINT ["/sealenv-inject", "--no-access-log", "--"]
CMD ["/probe", "env"]
`
	files := map[string][]byte{"prod.env": bundle}
	inj, err := os.ReadFile(e.GoBuild(t, "../cmd/sealenv-inject"))
	if err != nil {
		t.Fatal(err)
	}
	files["sealenv-inject"] = inj

	// No declared key for dev: nothing to carry, an error before the build.
	r := sealBuild(t, e, f, SealBuild{Dockerfile: dockerfile, Files: files, Addr: "unix:///nonexistent/buildkitd.sock",
		Flags: []string{"--policy", policy, "--names-env", "dev"}})
	r.want(t, 2)
	if !strings.Contains(r.Stderr, "--names-env dev: ") || !strings.Contains(r.Stderr, "declares no key") {
		t.Errorf("--names-env of an environment without declared keys: %s", r.Stderr)
	}

	r = sealBuild(t, e, f, SealBuild{Dockerfile: dockerfile, Files: files,
		Dest:  "docker-archive:" + filepath.Join(t.TempDir(), "image.tar") + ":sealenv-e2e/names:1",
		Flags: []string{"--policy", policy, "--names-env", "prod"}})
	r.want(t, 0)
	name := e.Load(t, Image{Archive: r.DestPath})
	key := map[string][]byte{"sealenv_age_key": f.KeyText}

	res := e.Run(t, Run{Image: name, Secrets: key})
	if res.ExitCode != 125 || strings.Count(res.Stderr, "\n") != 1 ||
		!strings.Contains(res.Stderr, "key DATABASE_URL is not among the names /etc/sealenv/names declares") {
		t.Fatalf("the image's own bundle with an undeclared key: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	f.NoValues(t, "the refusal", res.Stdout+res.Stderr)

	// A bundle of declared names only starts the command.
	ok := filepath.Join(t.TempDir(), "ok.env")
	if res := f.Run(t, dir, []byte("API_TOKEN="+f.Values["API_TOKEN"]+"\n"), nil, "seal", "-r", f.Recipient, "-i", "-", "-o", ok); res.Code != 0 {
		t.Fatalf("sealenv seal: exit %d: %s", res.Code, res.Stderr)
	}
	sealed, err := os.ReadFile(ok)
	if err != nil {
		t.Fatal(err)
	}
	res = e.Run(t, Run{Image: name, Secrets: key, Env: map[string]string{"SEALENV_BUNDLE": "/run/bundle/ok.env"},
		Files: map[string][]byte{"/run/bundle/ok.env": sealed}})
	if res.ExitCode != 0 {
		t.Fatalf("a bundle of declared names: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "API_TOKEN="+f.Values["API_TOKEN"]+"\n") {
		t.Error("the command did not get API_TOKEN")
	}
}
