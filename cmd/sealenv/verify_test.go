package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/attest"
	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/wrap"
)

// testImage is a one-layer image holding files.
func testImage(t *testing.T, files map[string]string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, d := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
		tw.Write([]byte(d))
	}
	tw.Close()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeLayoutImage writes img to a new OCI layout dir.
func writeLayoutImage(t *testing.T, dir string, img v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
}

// TestAttestAndVerifyCLI: audit image --attest/--attest-key writes and
// attaches a verdict (OCI layout and registry), verify checks it (exit 0
// clean, 1 findings, 2 none or invalid), and every misuse is one line with
// exit 2; no value or password is ever printed.
func TestAttestAndVerifyCLI(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	recipient := c.keygen("key.txt")
	dbPass := secret(t, "db")
	b, err := author.New(seal.FormatDotenv, []string{recipient})
	if err != nil {
		t.Fatal(err)
	}
	b.Set("DB_PASSWORD", []byte(dbPass))
	bundle, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.path("prod.env"), bundle, 0o644)
	writeLayoutImage(t, c.path("clean"), testImage(t, map[string]string{"etc/motd": "hello"}))
	writeLayoutImage(t, c.path("leak"), testImage(t, map[string]string{"app/config": "password: " + dbPass}))
	key := cosigntest.Encrypted(t, c.dir, "cosign", cosigntest.ECDSA(t))
	other := cosigntest.PKCS8(t, c.dir, "other", cosigntest.Ed25519(t))
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "COSIGN_PASSWORD="+key.Password)
	audit := func(img string, extra ...string) result {
		return c.run("", append([]string{"audit", "image", "--bundle", "prod.env", img}, extra...)...)
	}
	noLeak := func(what string, r result) {
		t.Helper()
		for _, s := range []string{dbPass, key.Password} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("%s printed a secret", what)
			}
		}
	}

	// Clean, signed, attached to the layout.
	r := audit("oci:clean", "--attest", "att.json", "--attest-key", key.Private)
	noLeak("audit", r)
	if r.code != 0 || !strings.Contains(r.stderr, "attestation (clean) attached to oci:") {
		t.Fatalf("audit --attest-key: exit %d: %s", r.code, r.stderr)
	}
	env, err := os.ReadFile(c.path("att.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err := attest.ParseEnvelope(env); err != nil || e.PayloadType != attest.PayloadType {
		t.Fatalf("att.json is not a DSSE envelope: %v", err)
	}
	if strings.Contains(string(env), dbPass) || strings.Contains(string(env), "DB_PASSWORD") {
		t.Fatal("the attestation names the secret")
	}
	if r := c.ok("", "verify", "--key", key.Public, "oci:clean"); !strings.HasPrefix(r.stdout, "verified: oci:") {
		t.Errorf("verify: %q", r.stdout)
	}
	c.ok("", "verify", "--key", key.Public, "--attestation", "att.json", c.path("clean"))
	c.fails("no signature verifies with the key", "", "verify", "--key", other.Public, "oci:clean")
	c.fails("about another image", "", "verify", "--key", key.Public, "--attestation", "att.json", "oci:leak")
	c.fails("none is attached", "", "verify", "--key", key.Public, "oci:leak")

	// Findings: nothing attested unless asked; then verify exits 1.
	r = audit("oci:leak", "--attest-key", key.Private)
	noLeak("audit of the leak", r)
	if r.code != 1 || !strings.Contains(r.stderr, "no attestation written or attached") {
		t.Fatalf("audit of the leak: exit %d: %s", r.code, r.stderr)
	}
	c.fails("none is attached", "", "verify", "--key", key.Public, "oci:leak")
	r = audit("oci:leak", "--attest-key", key.Private, "--attest-failing")
	if r.code != 1 || !strings.Contains(r.stderr, "attestation (findings) attached") {
		t.Fatalf("audit --attest-failing: exit %d: %s", r.code, r.stderr)
	}
	r = c.run("", "verify", "--key", key.Public, "oci:leak")
	if r.code != 1 || !strings.Contains(r.stderr, "findings at or above medium") {
		t.Fatalf("verify of the leak: exit %d: %s", r.code, r.stderr)
	}
	c.ok("", "verify", "--key", key.Public, "--severity", "high", "oci:clean")
	r = c.run("", "verify", "--key", key.Public, "--severity", "low", "oci:clean")
	if r.code != 1 || !strings.Contains(r.stderr, "audit again with --severity low") {
		t.Errorf("verify --severity low of a medium audit: exit %d: %s", r.code, r.stderr)
	}

	// Unsigned: the statement alone, for cosign attest --predicate.
	c.ok("", "audit", "image", "--bundle", "prod.env", "--attest", "st.json", "oci:clean")
	var st struct {
		Type          string          `json:"_type"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
		Subject       []attest.Subject
	}
	data, _ := os.ReadFile(c.path("st.json"))
	if err := json.Unmarshal(data, &st); err != nil || st.Type != attest.StatementType || st.PredicateType != attest.PredicateType || len(st.Subject) != 1 {
		t.Fatalf("st.json: %v %s", err, data)
	}

	// A registry: the image is pinned by digest, verified by reference.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.ParseReference(host + "/app:1")
	if err := remote.Write(ref, testImage(t, map[string]string{"etc/motd": "hi"})); err != nil {
		t.Fatal(err)
	}
	r = audit("docker://"+host+"/app:1", "--attest-key", other.Private)
	if r.code != 0 || !strings.Contains(r.stdout, "0 findings") {
		t.Fatalf("audit of the registry image: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	c.ok("", "verify", "--key", other.Public, "docker://"+host+"/app:1")

	// Misuse: one line, exit 2.
	os.WriteFile(c.path("app.tar"), nil, 0o644)
	writeTestImage(t, c.path("app.tar"), nil, map[string]string{"a": "b"})
	c.fails("push it and audit docker://REF, or write it to oci:DIR", "", "audit", "image", "--attest-key", key.Private, "docker-archive:app.tar")
	c.fails("--no-attach needs --attest-key", "", "audit", "image", "--attest", "x.json", "--no-attach", "oci:clean")
	c.fails("--attest-failing needs --attest FILE or --attest-key KEY", "", "audit", "image", "--attest-failing", "oci:clean")
	c.fails("would keep the signed verdict nowhere", "", "audit", "image", "--attest-key", key.Private, "--no-attach", "oci:clean")
	c.fails("usage: sealenv verify --key FILE", "", "verify", "oci:clean")
	c.fails("a private key, not a public key", "", "verify", "--key", key.Private, "oci:clean")
	c.fails("--severity", "", "verify", "--key", key.Public, "--severity", "urgent", "oci:clean")
	c.fails("--attestation", "", "verify", "--key", key.Public, "--attestation", "missing.json", "oci:clean")
	plain := &runner{t: t, dir: c.dir, env: []string{"HOME=" + c.dir}}
	plain.fails("COSIGN_PASSWORD is not set", "", "audit", "image", "--attest-key", key.Private, "oci:clean")
	wrong := &runner{t: t, dir: c.dir, env: []string{"HOME=" + c.dir, "COSIGN_PASSWORD=" + key.Password + "x"}}
	r = wrong.fails("wrong password, or a damaged key (the password comes from $COSIGN_PASSWORD)", "", "audit", "image", "--attest-key", key.Private, "oci:clean")
	noLeak("a wrong password", r)
}

// wrap --audit attests the image it writes, and refuses --attest without
// --audit or for a docker archive, before it writes anything.
func TestWrapAttestCLI(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	recipient := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("", "seal", "-r", recipient, "-o", "prod.env")
	c.ok(secret(t, "v"), "set", "prod.env", "API_TOKEN")
	inj := injectorBinary(t)
	img := testImage(t, map[string]string{"app": "x"})
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config.Cmd = "linux", wrapArch(t, inj), []string{"/app"}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	writeLayoutImage(t, c.path("src"), img)
	key := cosigntest.PKCS8(t, c.dir, "k", cosigntest.ECDSA(t))
	wrapArgs := []string{"wrap", "oci:src", "--bundle", "prod.env", "--injector", inj, "--allow-any-injector"}

	c.fails("--attest needs --audit", "", append(wrapArgs, "oci:out1", "--attest", "a.json")...)
	c.fails("no manifest digest", "", append(wrapArgs, "docker-archive:out2.tar", "--audit", "--attest-key", key.Private)...)
	for _, d := range []string{"out1", "out2.tar", "a.json"} {
		if _, err := os.Stat(c.path(d)); err == nil {
			t.Errorf("%s written despite the error", d)
		}
	}
	for _, dest := range []string{"oci:out", "oci-archive:out.tar"} {
		r := c.ok("", append(wrapArgs, dest, "--audit", "--attest-key", key.Private, "--attest", "w.json")...)
		if !strings.Contains(r.stderr, "attestation (clean) attached to "+dest) {
			t.Errorf("%s: %s", dest, r.stderr)
		}
		c.ok("", "verify", "--key", key.Public, dest)
		c.ok("", "verify", "--key", key.Public, "--attestation", "w.json", dest)
	}
}

// wrapArch is the architecture of the injector binary, for the image's
// platform.
func wrapArch(t *testing.T, inj string) string {
	t.Helper()
	data, err := os.ReadFile(inj)
	if err != nil {
		t.Fatal(err)
	}
	p, err := wrap.ELFPlatform(data)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p, "linux/")
}
