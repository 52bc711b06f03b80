package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// writeImage writes a docker-archive with one uncompressed layer holding files.
func writeTestImage(t *testing.T, path string, env []string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, d := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
		tw.Write([]byte(d))
	}
	tw.Close()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(buf.Bytes(), types.DockerUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Env = env
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{"/app/run"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
}

// sealDBPassword seals a DB_PASSWORD drawn now into prod.env, to a key
// the runner's identity opens, and returns it.
func sealDBPassword(t *testing.T, c *runner) string {
	t.Helper()
	recipient := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	dbPass := secret(t, "db")
	b, err := author.New(seal.FormatDotenv, []string{recipient})
	if err != nil {
		t.Fatal(err)
	}
	b.Set("DB_PASSWORD", []byte(dbPass))
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path("prod.env"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dbPass
}

func TestAuditCLI(t *testing.T) {
	c := newParallelCLI(t)
	dbPass := sealDBPassword(t, c)
	out, err := os.ReadFile(c.path("prod.env"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestImage(t, c.path("clean.tar"), []string{"PATH=/bin"}, map[string]string{"app/prod.env": string(out), "etc/motd": "hello"})
	writeTestImage(t, c.path("leak.tar"), []string{"DB_PASSWORD=" + dbPass}, map[string]string{"app/config": "password: " + dbPass})

	// Clean: exit 0, and the sealed bundle inside the image is fine.
	r := c.ok("", "audit", "image", "--bundle", "prod.env", "--format", "json", "clean.tar")
	var rep struct {
		Findings []map[string]any `json:"findings"`
		Coverage map[string]any   `json:"coverage"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 || rep.Coverage["complete"] != true || rep.Coverage["layers"].(float64) != 1 {
		t.Fatalf("%s", r.stdout)
	}

	// Findings: exit 1, no value anywhere.
	for _, format := range []string{"text", "json", "sarif"} {
		r = c.run("", "audit", "image", "--bundle", "prod.env", "--format", format, "docker-archive:leak.tar")
		if r.code != 1 {
			t.Fatalf("%s: exit %d: %s", format, r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, dbPass) {
			t.Fatalf("%s report holds the value", format)
		}
		if !strings.Contains(r.stdout, "DB_PASSWORD") {
			t.Fatalf("%s report does not name the secret: %s", format, r.stdout)
		}
	}

	// Errors: exit 2 with one line.
	os.WriteFile(c.path("broken.tar"), []byte("not an archive"), 0o644)
	c.fails("not an image archive", "", "audit", "image", "broken.tar")
	c.fails("no such file", "", "audit", "image", "--bundle", "missing.env", "clean.tar")
	c.fails("unknown format", "", "audit", "image", "--format", "xml", "clean.tar")
	c.fails("--max-depth: 0: want 1 or more", "", "audit", "image", "--max-depth", "0", "clean.tar")
	c.fails(`--max-sparse-size: "5XB": unknown unit`, "", "audit", "image", "--max-sparse-size", "5XB", "clean.tar")
	c.fails("--max-file-check", "", "audit", "image", "--max-file-check", "-1", "clean.tar")
	c.fails("unknown transport", "", "audit", "image", "dokcer-archive:clean.tar")
	// A limit reached is incomplete: exit 2, the reason on stderr and in the report.
	r = c.run("", "audit", "image", "--max-file-check", "10", "--bundle", "prod.env", "docker-archive:clean.tar")
	if r.code != 2 || !strings.Contains(r.stdout, "not searched:") {
		t.Fatalf("a limit reached: exit %d, stdout %q", r.code, r.stdout)
	}

	// Dockerfile.
	os.WriteFile(c.path("Dockerfile"), []byte("FROM alpine\nARG DB_PASSWORD\nARG VERSION=1\nCOPY .env /app/.env\nRUN --mount=type=secret,id=db make\n"), 0o644)
	r = c.run("", "audit", "dockerfile", "--bundle", "prod.env", "--format", "json", "Dockerfile")
	if r.code != 1 || !strings.Contains(r.stdout, `"secret-arg"`) || !strings.Contains(r.stdout, `"copy-secret-file"`) || !strings.Contains(r.stdout, `"line": 2`) {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	os.WriteFile(c.path("Dockerfile.ok"), []byte("FROM alpine\nARG VERSION=1\nCOPY prod.env /app/prod.env\nRUN --mount=type=secret,id=db make\n"), 0o644)
	c.ok("", "audit", "dockerfile", "--bundle", "prod.env", "Dockerfile.ok")
}

var _ = v1.Hash{}

// The policy file supplies the bundles, custom rules, the allowlist and
// the baseline; each suppression is counted with its reason.
func TestAuditPolicy(t *testing.T) {
	c := newParallelCLI(t)
	recipient := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	dbPass := secret(t, "db")
	b, _ := author.New(seal.FormatDotenv, []string{recipient})
	b.Set("DB_PASSWORD", []byte(dbPass))
	out, _ := b.Marshal()
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("secrets/prod.env"), out, 0o644)
	acme := "acme_" + strings.ToLower(secret(t, "x")[2:12])
	writeTestImage(t, c.path("img.tar"), nil, map[string]string{
		"app/a.txt":        "x " + dbPass,
		"app/b.txt":        "token " + acme,
		"vendor/test.conf": "x " + dbPass,
	})
	policy := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients: [{key: " + recipient + ", owner: me}]\n" +
		"audit:\n  rules:\n    - id: acme-token\n      regex: 'acme_[a-z0-9_-]{8,}'\n  allowlist:\n    - path: vendor/\n      reason: vendored test fixture\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)

	r := c.run("", "audit", "image", "--format", "json", "img.tar")
	var rep struct {
		Findings []struct {
			Rule, Path, Secret, Fingerprint string
		}
		Suppressed []struct {
			Reason string
			Count  int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("exit %d: %v %s", r.code, err, r.stderr)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Path] = f.Rule
	}
	if len(rep.Findings) != 2 || got["app/a.txt"] != "sealed-value" || got["app/b.txt"] != "acme-token" {
		t.Fatalf("%s", r.stdout)
	}
	if len(rep.Suppressed) != 1 || rep.Suppressed[0].Reason != "vendored test fixture" || rep.Suppressed[0].Count != 1 {
		t.Fatalf("suppressed: %+v", rep.Suppressed)
	}

	// Accept today's findings as a baseline: the audit is clean until a
	// new one appears.
	os.WriteFile(c.path("baseline.json"), []byte(r.stdout), 0o644)
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"  baseline:\n    file: baseline.json\n    reason: accepted on adoption, ticket SEC-1\n"), 0o644)
	r = c.ok("", "audit", "image", "img.tar")
	if !strings.Contains(r.stdout, "suppressed 2: baseline: accepted on adoption") {
		t.Fatalf("%s", r.stdout)
	}
}

// SIGTERM and SIGINT stop an audit at once, with 128+N. The image
// holds a sparse file whose content is an archive of a terabyte of holes:
// the walk would take minutes.
func TestAuditSignal(t *testing.T) {
	hdr := func(name string, flag byte, size int64) []byte {
		b := make([]byte, 512)
		copy(b, name)
		copy(b[100:], "0000644\x00")
		copy(b[124:], fmt.Sprintf("%011o\x00", size))
		b[156] = flag
		copy(b[257:], "ustar\x0000")
		copy(b[148:156], "        ")
		sum := 0
		for _, c := range b {
			sum += int(c)
		}
		copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
		return b
	}
	pax := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "big.img"}, {"GNU.sparse.realsize", "1099511627775"}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 2
		pax += fmt.Sprint(n) + rec
	}
	var l bytes.Buffer
	l.Write(hdr("PaxHeaders/x", 'x', int64(len(pax))))
	l.Write([]byte(pax))
	l.Write(make([]byte, 512-len(pax)))
	l.Write(hdr("GNUSparseFile.0/big.img", '0', 1024))
	sparseMap := []byte("1\n0\n512\n")
	l.Write(append(sparseMap, make([]byte, 512-len(sparseMap))...))
	l.Write(hdr("inner", '0', 1<<39)) // the fragment: a tar entry of 512 GiB
	l.Write(make([]byte, 1024))
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(l.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	if _, err := layout.Write(c.path("img"), mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(os.Args[0], "audit", "image", "oci:"+c.path("img"))
		cmd.Env = append([]string{"SEALENV_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, c.env...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		cmd.Process.Signal(sig)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			// The walk takes minutes: still running means the signal was
			// ignored. (It stops in milliseconds; the bound is loose for
			// a loaded machine.)
			cmd.Process.Kill()
			t.Fatalf("%v: still running 5 s after the signal", sig)
		}
		t.Logf("%v: stopped %v after the signal", sig, time.Since(start))
		if got, want := cmd.ProcessState.ExitCode(), 128+int(sig); got != want {
			t.Errorf("%v: exit %d, want %d (stderr %q)", sig, got, want, errb.String())
		}
		if !strings.Contains(errb.String(), "interrupted by") {
			t.Errorf("%v: stderr %q", sig, errb.String())
		}
	}
}

// A sealed value too short to search makes audit, scan, wrap --audit and
// the Dockerfile lint incomplete (exit 2), naming the key and the way
// forward, unless --allow-short or the policy's allow_short (per key, per
// environment) accepts it. The value is never printed.
func TestAuditShortValues(t *testing.T) {
	c := newParallelCLI(t)
	recipient := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	pin := secret(t, "p")[2:8]
	os.MkdirAll(c.path("secrets"), 0o755)
	for _, env := range []string{"prod", "dev"} {
		b, err := author.New(seal.FormatDotenv, []string{recipient})
		if err != nil {
			t.Fatal(err)
		}
		b.Set("PIN", []byte(pin))
		b.Set("DB_PASSWORD", []byte(secret(t, env)))
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(c.path("secrets/"+env+".env"), out, 0o644)
	}
	envs := "version: 1\nenvironments:\n" +
		"  - {name: prod, bundle: secrets/prod.env, recipients: [{key: " + recipient + "}]}\n" +
		"  - {name: dev, bundle: secrets/dev.env, recipients: [{key: " + recipient + "}]%s}\n"
	policy := func(devExtra, tail string) {
		os.WriteFile(c.path("sealenv.yaml"), []byte(fmt.Sprintf(envs, devExtra)+tail), 0o644)
	}
	writeTestImage(t, c.path("img.tar"), nil, map[string]string{"app/pin.txt": "pin " + pin + "\n"})
	os.MkdirAll(c.path("src"), 0o755)
	os.WriteFile(c.path("src/pin.txt"), []byte("pin "+pin+"\n"), 0o644)
	os.WriteFile(c.path("Dockerfile"), []byte("FROM scratch\nCOPY src /src\n"), 0o644)

	incomplete := func(args ...string) {
		t.Helper()
		r := c.run("", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "search minimum: PIN") || !strings.Contains(r.stderr, "--allow-short") || !strings.Contains(r.stderr, "allow_short") {
			t.Errorf("%v: exit %d, want 2 naming PIN and the way forward: %s", args, r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, pin) {
			t.Errorf("%v: the short value was printed", args)
		}
	}
	clean := func(args ...string) {
		t.Helper()
		r := c.run("", args...)
		if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "accepted: PIN") && !strings.Contains(r.stderr, "audit: clean") {
			t.Errorf("%v: exit %d, want 0 with PIN accepted: %s %s", args, r.code, r.stdout, r.stderr)
		}
	}
	policy("", "")
	incomplete("audit", "image", "img.tar")
	incomplete("audit", "image", "--bundle", "secrets/dev.env", "img.tar")
	incomplete("audit", "dockerfile", "Dockerfile")
	incomplete("scan", "src")
	clean("audit", "image", "--allow-short", "img.tar")
	clean("audit", "dockerfile", "--allow-short", "Dockerfile")
	clean("scan", "--allow-short", "src")

	// Per environment: dev accepts PIN, prod does not.
	policy(", allow_short: [PIN]", "")
	clean("audit", "image", "--bundle", "secrets/dev.env", "img.tar")
	incomplete("audit", "image", "--bundle", "secrets/prod.env", "img.tar")
	incomplete("audit", "image", "img.tar")
	policy(", allow_short: true", "")
	clean("audit", "image", "--bundle", "secrets/dev.env", "img.tar")
	incomplete("audit", "image", "img.tar")
	// Per key, in every environment.
	policy("", "keys:\n  PIN: {allow_short: true}\n")
	clean("audit", "image", "img.tar")
	clean("scan", "src")

	// wrap --audit writes nothing while a short value is not accepted.
	policy("", "")
	inj := injectorBinary(t)
	r := c.run("", "wrap", "docker-archive:"+c.path("img.tar"), "oci:"+c.path("out"), "--bundle", "secrets/prod.env", "--injector", inj, "--allow-any-injector", "--audit")
	if r.code != 2 || !strings.Contains(r.stderr, "search minimum: PIN") || !strings.Contains(r.stderr, "nothing was written") || strings.Contains(r.stdout+r.stderr, pin) {
		t.Errorf("wrap --audit: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(c.path("out")); err == nil {
		t.Error("wrap wrote the image of an incomplete audit")
	}
	clean("wrap", "docker-archive:"+c.path("img.tar"), "oci:"+c.path("out"), "--bundle", "secrets/prod.env", "--injector", inj, "--allow-any-injector", "--audit", "--allow-short")
}

// Nothing sealenv audit prints names a secret: a token or a sealed value
// in a file name reaches stdout (every format) and stderr (the incomplete
// reason, a refused archive) only as [REDACTED].
func TestAuditMasksNames(t *testing.T) {
	c := newParallelCLI(t)
	recipient := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	dbPass := secret(t, "db")
	b, _ := author.New(seal.FormatDotenv, []string{recipient})
	b.Set("DB_PASSWORD", []byte(dbPass))
	out, _ := b.Marshal()
	os.WriteFile(c.path("prod.env"), out, 0o644)
	gh := "ghp_" + strings.NewReplacer("-", "", "_", "").Replace(secret(t, "x") + secret(t, "y") + secret(t, "z"))[:36]
	var inner bytes.Buffer
	tw := tar.NewWriter(&inner)
	tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	zw.Write(inner.Bytes())
	zw.Close()
	writeTestImage(t, c.path("img.tar"), nil, map[string]string{
		"app/" + gh + "/" + dbPass + ".tgz": tgz.String(),
	})
	for _, format := range []string{"text", "json", "sarif"} {
		r := c.run("", "audit", "image", "--bundle", "prod.env", "--max-depth", "1", "--format", format, "img.tar")
		if r.code != 2 || !strings.Contains(r.stderr, "[REDACTED]") || !strings.Contains(r.stderr, "nested deeper") {
			t.Errorf("%s: exit %d, stderr %q", format, r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, gh) || strings.Contains(r.stdout+r.stderr, dbPass) {
			t.Errorf("%s: a planted name was printed", format)
		}
	}
	// An archive refused for holding a name twice: the one error line
	// names it masked.
	data, _ := os.ReadFile(c.path("img.tar"))
	var twice bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(data))
	tw = tar.NewWriter(&twice)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var body bytes.Buffer
		body.ReadFrom(tr)
		tw.WriteHeader(h)
		tw.Write(body.Bytes())
	}
	for i := 0; i < 2; i++ {
		tw.WriteHeader(&tar.Header{Name: gh, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	os.WriteFile(c.path("twice.tar"), twice.Bytes(), 0o644)
	r := c.fails("[REDACTED] twice", "", "audit", "image", "--bundle", "prod.env", "twice.tar")
	if strings.Contains(r.stderr, gh) {
		t.Error("the error names the token")
	}
	// A layer that manifest.json names but the archive lacks: the
	// incomplete reason names its path, masked.
	var missing bytes.Buffer
	tw = tar.NewWriter(&missing)
	for name, body := range map[string]string{
		"manifest.json": `[{"Config": "config.json", "RepoTags": ["app:1"], "Layers": ["` + gh + `/layer.tar"]}]`,
		"config.json":   `{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}}`,
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	os.WriteFile(c.path("missing.tar"), missing.Bytes(), 0o644)
	for _, format := range []string{"text", "json", "sarif"} {
		r = c.run("", "audit", "image", "--bundle", "prod.env", "--format", format, "missing.tar")
		if r.code != 2 || !strings.Contains(r.stderr+r.stdout, "[REDACTED]/layer.tar") || strings.Contains(r.stdout+r.stderr, gh) {
			t.Errorf("missing layer, %s: exit %d, stdout %q, stderr %q", format, r.code, r.stdout, r.stderr)
		}
	}
}
