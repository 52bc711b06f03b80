package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBuildCLI runs sealenv build as a process, without BuildKit: what is
// decided before a build (flags, the lint, the build arguments) and what a
// BuildKit that does not answer does. The builds themselves are in
// e2e/sealbuild_test.go, against a real buildkitd.
func TestBuildCLI(t *testing.T) {
	c := newParallelCLI(t)
	me := c.keygen("me.txt")
	other := c.keygen("other.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("me.txt"), "TMPDIR="+c.path("tmp"))
	os.MkdirAll(c.path("tmp"), 0o700)
	policy := "version: 1\nenvironments:\n" +
		"  - name: build\n    bundle: secrets/build.env\n    recipients: [{key: " + me + "}]\n" +
		"  - name: prod\n    bundle: secrets/prod.env\n    recipients: [{key: " + me + "}]\n" +
		"  - name: staging\n    bundle: secrets/staging.env\n    recipients: [{key: " + other + "}]\n"
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	npm, prod := secret(t, "npm"), secret(t, "prod")
	c.ok("NPM_TOKEN="+npm+"\n", "seal", "--env", "build", "-i", "-")
	c.ok("DB_PASSWORD="+prod+"\n", "seal", "--env", "prod", "-i", "-")
	c.ok("STAGING_KEY="+secret(t, "stg")+"\n", "seal", "--env", "staging", "-i", "-")
	os.MkdirAll(c.path("ctx"), 0o755)
	os.WriteFile(c.path("ctx/Dockerfile"), []byte("FROM scratch\nARG VERSION\nCOPY app /app\n"), 0o644)
	os.WriteFile(c.path("ctx/app"), []byte("app\n"), 0o644)
	nowhere := "unix://" + c.path("no-buildkitd.sock")
	base := []string{"build", "--env", "build", "--addr", nowhere}

	// A value of another environment of the policy, passed as a build
	// argument under an innocent name: exit 1, BuildKit never contacted
	// (it would be exit 2 here), the staging bundle this key cannot open
	// only noted.
	r := c.run("", append(base, "--format", "json", "--build-arg", "VERSION="+prod, "-o", "oci:"+c.path("out"), "ctx")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	var rep struct {
		Findings []struct{ Kind, Rule, Secret, Where, Field string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report: %v: %q", err, r.stdout)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Secret != "DB_PASSWORD" || rep.Findings[0].Where != "build-arg" || rep.Findings[0].Field != "VERSION" {
		t.Errorf("findings %+v, want the prod value in build argument VERSION", rep.Findings)
	}
	for _, want := range []string{"secrets/staging.env: the identity does not open it", "nothing was built"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
	if strings.Contains(r.stdout+r.stderr, prod) || strings.Contains(r.stdout+r.stderr, npm) {
		t.Error("a value is in the output")
	}
	if _, err := os.Stat(c.path("out")); err == nil {
		t.Error("DEST written")
	}

	// The other tests have no bundle the key cannot open.
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy[:strings.Index(policy, "  - name: staging")]), 0o644)

	// A clean lint goes on to BuildKit, which is not there: exit 2, one line.
	c.fails("building with BuildKit at ", "", append(base, "-o", "oci:"+c.path("out"), "ctx")...)

	// What is refused before anything is read or built.
	os.MkdirAll(c.path("exists"), 0o755)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"usage: sealenv build", []string{"-o", "oci:x"}},
		{"--attest", []string{"--attest", "sbom=true", "-o", "oci:x", "ctx"}},
		{"--build-arg #2: want NAME=VALUE", []string{"--build-arg", "A=1", "--build-arg", "=" + npm, "-o", "oci:x", "ctx"}},
		// NOPE is in no bundle: it could be a value, so it is not shown.
		{"--secret [argument 7]: no bundle given holds it", []string{"--secret", "NOPE", "-o", "oci:x", "ctx"}},
		{"--secret [argument 7]: no bundle given holds it", []string{"--secret", "id=NPM_TOKEN,env=" + npm, "-o", "oci:x", "ctx"}},
		{"never a file on disk", []string{"--secret", "id=NPM_TOKEN,src=" + c.path("ctx/app"), "-o", "oci:x", "ctx"}},
		{"--push needs -t NAME[:TAG]", []string{"--push", "ctx"}},
		{"--load needs -t NAME[:TAG]", []string{"--load", "ctx"}},
		{"--tag [argument 7]: want NAME[:TAG]", []string{"-t", "Not A Tag", "--load", "ctx"}},
		{"--label #1: want NAME=VALUE", []string{"--label", "x", "ctx"}},
		{"$SSH_AUTH_SOCK is not set", []string{"--ssh", "default", "ctx"}},
		{"--cache-to type=gha: a cache type sealenv cannot audit", []string{"--cache-to", "type=gha,scope=x", "ctx"}},
		{"network", []string{"--network", "bridge", "ctx"}},
		{"one platform and no attestations", []string{"--platform", "linux/amd64,linux/arm64", "-t", "app:1", "--load", "ctx"}},
		{"an image only in BuildKit's store is never audited", []string{"-o", "type=image,name=app:1", "ctx"}},
		{"pass --tls-ca-cert", []string{"--addr", "tcp://127.0.0.1:1234", "-o", "oci:x", "ctx"}},
		{"pass --force", []string{"-o", "oci:" + c.path("exists"), "ctx"}},
		{"one platform and no attestations", []string{"--platform", "linux/amd64,linux/arm64", "-o", "docker-archive:x.tar", "ctx"}},
		{"one platform and no attestations", []string{"--attest", "provenance=max", "-o", "docker-archive:x.tar", "ctx"}},
		{"not a destination", []string{"-o", "x", "ctx"}},
		{"build context", []string{"-o", "oci:x", "missing"}},
		{"progress", []string{"--progress", "fancy", "-o", "oci:x", "ctx"}},
		{"--env nope", []string{"--env", "nope", "-o", "oci:x", "ctx"}},
	} {
		r := c.fails(tc.want, "", append(append([]string{}, base...), tc.args...)...)
		if strings.Contains(r.stderr, npm) {
			t.Errorf("%v: the error echoes a value", tc.args)
		}
	}
	for _, p := range []string{"x", "x.tar", "out"} {
		if _, err := os.Stat(c.path(p)); err == nil {
			t.Errorf("%s written", p)
		}
	}

	// Without --addr: $BUILDKIT_HOST, else a default socket.
	if _, err := os.Stat("/run/buildkit/buildkitd.sock"); err != nil {
		c.fails("pass --addr", "", "build", "--env", "build", "-o", "oci:x", "ctx")
	}
	saved := c.env
	c.env = append(c.env, "BUILDKIT_HOST="+nowhere)
	c.fails("building with BuildKit at ", "", "build", "--env", "build", "-o", "oci:x", "ctx")
	c.env = saved
	// The private export folders are gone.
	if left, _ := os.ReadDir(c.path("tmp")); len(left) > 0 {
		t.Errorf("%s left in TMPDIR", left[0].Name())
	}
}

// A sealed value too short to search stops sealenv build before BuildKit
// is contacted (exit 2, naming the key and the way forward); with
// --allow-short, or the policy's allow_short for that environment, the
// build goes on (to a BuildKit that is not there here).
func TestBuildShortValues(t *testing.T) {
	c := newParallelCLI(t)
	me := c.keygen("me.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("me.txt"), "TMPDIR="+c.path("tmp"))
	os.MkdirAll(c.path("tmp"), 0o700)
	policy := "version: 1\nenvironments:\n  - name: build\n    bundle: secrets/build.env\n    recipients: [{key: " + me + "}]\n"
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	pin := secret(t, "p")[2:8]
	c.ok("PIN="+pin+"\nNPM_TOKEN="+secret(t, "npm")+"\n", "seal", "--env", "build", "-i", "-")
	os.MkdirAll(c.path("ctx"), 0o755)
	os.WriteFile(c.path("ctx/Dockerfile"), []byte("FROM scratch\nCOPY app /app\n"), 0o644)
	os.WriteFile(c.path("ctx/app"), []byte("app\n"), 0o644)
	base := []string{"build", "--env", "build", "--addr", "unix://" + c.path("no-buildkitd.sock"), "-o", "oci:" + c.path("out"), "ctx"}

	r := c.run("", base...)
	if r.code != 2 || !strings.Contains(r.stderr, "search minimum: PIN") || !strings.Contains(r.stderr, "--allow-short") || strings.Contains(r.stderr, "building with BuildKit") {
		t.Errorf("short value: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pin) {
		t.Error("the short value was printed")
	}
	c.fails("building with BuildKit at ", "", append([]string{"build", "--allow-short"}, base[1:]...)...)
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"    allow_short: [PIN]\n"), 0o644)
	c.fails("building with BuildKit at ", "", base...)
	if _, err := os.Stat(c.path("out")); err == nil {
		t.Error("DEST written")
	}
}

// TestBuildxForms: buildx's NAME=VALUE,NAME=VALUE values are read as buildx
// reads them (CSV, a quoted field keeps its comma), and mapped to sealenv's.
func TestBuildxForms(t *testing.T) {
	c := parseCache(`type=local,"dest=/tmp/a,b",mode=max`, true)
	if c.Type != "local" || c.Attrs["dest"] != "/tmp/a,b" || c.Attrs["mode"] != "max" {
		t.Errorf("cache %+v", c)
	}
	if c := parseCache("registry.example.com/app:cache", false); c.Type != "registry" || c.Attrs["ref"] != "registry.example.com/app:cache" {
		t.Errorf("bare cache ref %+v", c)
	}
	sp, err := parseSecrets([]string{"NPM_TOKEN", "id=AUTH,env=NPM_TOKEN", "id=ONLY"})
	if err != nil || len(sp) != 3 || sp[0] != (secretFlag{"NPM_TOKEN", "NPM_TOKEN", "NPM_TOKEN"}) ||
		sp[1].id != "AUTH" || sp[1].key != "NPM_TOKEN" || sp[2].key != "ONLY" {
		t.Errorf("secrets %+v, %v", sp, err)
	}
	for _, bad := range []string{"id=X,src=/etc/x", "id=X,type=file", "env=Y", "id=X,mode=0400"} {
		if _, err := parseSecrets([]string{bad}); err == nil {
			t.Errorf("--secret %s accepted", bad)
		}
	}
	getenv := func(k string) string { return map[string]string{"SSH_AUTH_SOCK": "/run/agent.sock"}[k] }
	if s, err := parseSSH("default", getenv); err != nil || s.ID != "default" || len(s.Paths) != 1 || s.Paths[0] != "/run/agent.sock" {
		t.Errorf("--ssh default: %+v, %v", s, err)
	}
	if s, err := parseSSH("gh=/k/a,/k/b", getenv); err != nil || s.ID != "gh" || len(s.Paths) != 2 {
		t.Errorf("--ssh gh=...: %+v, %v", s, err)
	}
	for in, want := range map[string]string{
		"type=oci,dest=out.tar":              "oci-archive:out.tar",
		"type=oci,dest=out,tar=false":        "oci:out",
		"type=docker,dest=out.tar,name=a:1":  "docker-archive:out.tar:a:1",
		"type=registry,name=example.com/a:1": "docker://example.com/a:1",
		"oci:dir":                            "oci:dir",
	} {
		if d, err := parseOutput(in); err != nil || d.String() != want {
			t.Errorf("-o %s: %v, %v; want %s", in, d, err, want)
		}
	}
}
