package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/attest"
	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
)

// CosignVersion is the cosign scripts/install-cosign.sh installs and CI
// checks attestations with.
const CosignVersion = "v2.6.5"

// cosign is the real cosign, run with a private HOME (its TUF cache) and
// no network but the test's registry on 127.0.0.1.
type cosign struct {
	path string
	home string
}

// needCosign finds cosign: $SEALENV_COSIGN, PATH, or $(go env
// GOPATH)/bin, where scripts/install-cosign.sh puts it. A missing cosign
// skips the test, or fails it under SEALENV_REQUIRE_PEERS=1 with
// SEALENV_E2E_COSIGN=1 (.ci/run): the README's test command does not build
// cosign (minutes), CI does.
func needCosign(t *testing.T) *cosign {
	t.Helper()
	dirs := []string{}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	p, err := findTool("SEALENV_COSIGN", "cosign", dirs)
	if err != nil {
		what := "cosign not found (" + err.Error() + "); scripts/install-cosign.sh installs cosign " + CosignVersion
		if requirePeers() && os.Getenv("SEALENV_E2E_COSIGN") == "1" {
			t.Fatalf("e2e: %s (SEALENV_REQUIRE_PEERS=1 with SEALENV_E2E_COSIGN=1 forbids skipping)", what)
		}
		t.Skipf("e2e: %s", what)
	}
	c := &cosign{path: p, home: t.TempDir()}
	out, _ := c.run(t, nil, "version")
	if !strings.Contains(out, "GitVersion:") {
		t.Fatalf("%s version: %s", p, out)
	}
	if !strings.Contains(out, CosignVersion) {
		t.Logf("cosign is not %s: %s", CosignVersion, regexp.MustCompile(`GitVersion:\s*\S+`).FindString(out))
	}
	return c
}

// run runs cosign with env (NAME=value) and returns its stdout and stderr
// together, and whether it exited 0.
func (c *cosign) run(t *testing.T, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(c.path, args...)
	cmd.Env = append(withoutEnv(os.Environ(), "HOME", "COSIGN_PASSWORD", "COSIGN_EXPERIMENTAL", "SIGSTORE_ROOT_FILE"),
		append([]string{"HOME=" + c.home, "TUF_ROOT=" + filepath.Join(c.home, "tuf")}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("cosign %s: %v", args[0], err)
	}
	return out.String(), err == nil
}

// verifyAttestation runs cosign verify-attestation --key pub --type
// sealenv's --insecure-ignore-tlog on image (and --policy), and returns the
// statements it verified.
func (c *cosign) verifyAttestation(t *testing.T, pub, image string, extra ...string) ([]attest.Statement, string, bool) {
	t.Helper()
	args := append([]string{"verify-attestation", "--key", pub, "--type", attest.PredicateType, "--insecure-ignore-tlog"}, extra...)
	out, ok := c.run(t, nil, append(args, image)...)
	var sts []attest.Statement
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var env attest.Envelope
		if json.Unmarshal([]byte(line), &env) != nil {
			continue
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatalf("cosign printed an envelope whose payload is not base64: %v", err)
		}
		st, err := attest.ParseStatement(payload)
		if err != nil {
			t.Fatalf("cosign verified a statement sealenv cannot read: %v", err)
		}
		sts = append(sts, *st)
	}
	return sts, out, ok
}

// scratchImage writes a FROM-scratch image to an OCI layout: the static
// probe as /probe, Cmd ["/probe", "env"], and files.
func scratchImage(t *testing.T, e *Env, dir string, files map[string]string) string {
	t.Helper()
	probe, err := os.ReadFile(e.GoBuild(t, "./testdata/probe"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(n string, b []byte, mode int64) {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	add("probe", probe, 0o755)
	for _, n := range sortedKeys(files) {
		add(n, []byte(files[n]), 0o644)
	}
	tw.Close()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{"/probe", "env"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir
}

// policyCUE is the CUE policy of the key-based ClusterImagePolicy in
// docs/attest.md: the one a cluster runs is the one cosign runs here.
func policyCUE(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/attest.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		var cip struct {
			Kind string
			Spec struct {
				Authorities []struct {
					Key          *struct{ Data string }
					Attestations []struct {
						PredicateType string `yaml:"predicateType"`
						Policy        struct{ Type, Data string }
					}
				}
			}
		}
		if yaml.Unmarshal([]byte(m[1]), &cip) != nil || cip.Kind != "ClusterImagePolicy" {
			continue
		}
		for _, a := range cip.Spec.Authorities {
			if a.Key == nil {
				continue
			}
			for _, at := range a.Attestations {
				if at.PredicateType == attest.PredicateType && at.Policy.Type == "cue" {
					return at.Policy.Data
				}
			}
		}
	}
	t.Fatal("docs/attest.md has no key-based ClusterImagePolicy with a cue policy for " + attest.PredicateType)
	return ""
}

// TestAttestCosign: a FROM-scratch image wrapped by sealenv wrap --audit
// and pushed to go-containerregistry's registry on 127.0.0.1 (no referrers
// API, as crane registry serve) carries a signed verdict that the real
// cosign verify-attestation accepts (ECDSA P-256 from cosign
// generate-key-pair, Ed25519 from cosign import-key-pair and as PKCS #8),
// that cosign tree lists, and that the CUE policy of docs/attest.md
// admits; a wrong key, a tampered predicate and another image's digest
// fail in cosign and in sealenv verify; an image with findings is refused
// by the policy and by sealenv verify; cosign attest --predicate (the
// two-step path, with a key here) makes an attestation sealenv verify
// accepts; and an oci: layout gets the same.
func TestAttestCosign(t *testing.T) {
	t.Parallel()
	cs := needCosign(t)
	e := baseEnv(t)
	f := fixture(t, e)
	inj := e.GoBuild(t, "../cmd/sealenv-inject")
	dir := t.TempDir()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	// Distinct images (a wrapped image's digest depends on its source only).
	clean := scratchImage(t, e, filepath.Join(dir, "clean"), map[string]string{"etc/motd": "hello"})
	other := func(n string) string {
		return scratchImage(t, e, filepath.Join(dir, n), map[string]string{"etc/motd": "hello from " + n})
	}
	leaky := scratchImage(t, e, filepath.Join(dir, "leaky"), map[string]string{"app/token.txt": f.Values["API_TOKEN"]})
	cue := filepath.Join(dir, "policy.cue")
	writeFile(t, cue, []byte(policyCUE(t)), 0o644)

	// Keys: cosign's own, made by cosign, passwords through the environment.
	pw := randomValue(t, 8)
	keyEnv := []string{"COSIGN_PASSWORD=" + pw}
	if out, ok := cs.run(t, keyEnv, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign")); !ok {
		t.Fatalf("cosign generate-key-pair: %s", out)
	}
	otherDir := t.TempDir()
	if out, ok := cs.run(t, keyEnv, "generate-key-pair", "--output-key-prefix", filepath.Join(otherDir, "other")); !ok {
		t.Fatalf("cosign generate-key-pair: %s", out)
	}
	ed := cosigntest.PKCS8(t, dir, "ed", cosigntest.Ed25519(t))
	if out, ok := cs.run(t, keyEnv, "import-key-pair", "--key", ed.Private, "--output-key-prefix", filepath.Join(dir, "ed-cosign")); !ok {
		t.Fatalf("cosign import-key-pair: %s", out)
	}
	key, pub := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	sealenv := func(want int, args ...string) CLIResult {
		t.Helper()
		res := f.Run(t, dir, nil, keyEnv, args...)
		if strings.Contains(res.Stdout+res.Stderr, pw) {
			t.Errorf("sealenv %s printed the key's password", args[0])
		}
		if res.Code != want {
			t.Fatalf("sealenv %s: exit %d, want %d: %s %s", strings.Join(args, " "), res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	wrap := func(src, dest string, extra ...string) {
		t.Helper()
		sealenv(0, append([]string{"wrap", src, dest, "--bundle", f.Bundle, "--identity", f.Key, "--injector", inj, "--audit"}, extra...)...)
	}

	// The wrapped image, attested by wrap itself.
	app := host + "/sealenv-e2e/app:1"
	wrap(clean, "docker://"+app, "--attest-key", key, "--attest", filepath.Join(dir, "app.att.json"))
	sts, out, ok := cs.verifyAttestation(t, pub, app)
	if !ok || len(sts) != 1 || sts[0].Predicate.Verdict != attest.VerdictClean || !sts[0].Predicate.Complete {
		t.Fatalf("cosign verify-attestation of the wrapped image: %v: %s", ok, out)
	}
	appDigest := sts[0].Subject[0].Digest["sha256"]
	if got := sealenv(0, "verify", "docker://"+app, "--key", pub).Stdout; !strings.Contains(got, "sha256:"+appDigest) {
		t.Errorf("sealenv verify names another digest: %s", got)
	}
	if _, out, ok := cs.verifyAttestation(t, pub, app, "--policy", cue); !ok {
		t.Errorf("the CUE policy of docs/attest.md refuses the clean image: %s", out)
	}
	tree, _ := cs.run(t, nil, "tree", app)
	if !strings.Contains(tree, "sha256-"+appDigest+".att") || !regexp.MustCompile(`🍒 sha256:[0-9a-f]{64}`).MatchString(tree) {
		t.Errorf("cosign tree does not list the attestation: %s", tree)
	}
	tree, _ = cs.run(t, nil, "tree", "--experimental-oci11", app)
	if !strings.Contains(tree, attest.ArtifactType+" artifacts via OCI referrer") {
		t.Errorf("cosign tree --experimental-oci11 does not list the referrer: %s", tree)
	}

	// A wrong key.
	if _, out, ok := cs.verifyAttestation(t, filepath.Join(otherDir, "other.pub"), app); ok {
		t.Errorf("cosign verify-attestation accepted another key: %s", out)
	}
	if res := sealenv(2, "verify", "docker://"+app, "--key", filepath.Join(otherDir, "other.pub")); !strings.Contains(res.Stderr, "no signature verifies with the key") {
		t.Errorf("sealenv verify with another key: %s", res.Stderr)
	}

	// Another image's digest: app's attestation copied onto a second image.
	second := host + "/sealenv-e2e/second:1"
	wrap(other("second"), "docker://"+second)
	if out, ok := cs.run(t, nil, "attach", "attestation", "--attestation", filepath.Join(dir, "app.att.json"), second); !ok {
		t.Fatalf("cosign attach attestation: %s", out)
	}
	if _, out, ok := cs.verifyAttestation(t, pub, second); ok {
		t.Errorf("cosign verify-attestation accepted another image's attestation: %s", out)
	}
	if res := sealenv(2, "verify", "docker://"+second, "--key", pub); !strings.Contains(res.Stderr, "about another image (sha256:"+appDigest+")") {
		t.Errorf("sealenv verify of another image's attestation: %s", res.Stderr)
	}
	sealenv(2, "verify", "docker://"+second, "--key", pub, "--attestation", filepath.Join(dir, "app.att.json"))

	// A tampered predicate: signed, then changed, then attached.
	third := host + "/sealenv-e2e/third:1"
	wrap(other("third"), "docker://"+third, "--attest-key", key, "--no-attach", "--attest", filepath.Join(dir, "third.att.json"))
	tampered := tamper(t, filepath.Join(dir, "third.att.json"), filepath.Join(dir, "tampered.json"))
	if out, ok := cs.run(t, nil, "attach", "attestation", "--attestation", tampered, third); !ok {
		t.Fatalf("cosign attach attestation: %s", out)
	}
	if _, out, ok := cs.verifyAttestation(t, pub, third); ok {
		t.Errorf("cosign verify-attestation accepted a tampered predicate: %s", out)
	}
	if res := sealenv(2, "verify", "docker://"+third, "--key", pub); !strings.Contains(res.Stderr, "no signature verifies with the key") {
		t.Errorf("sealenv verify of a tampered predicate: %s", res.Stderr)
	}
	sealenv(0, "verify", "docker://"+third, "--key", pub, "--attestation", filepath.Join(dir, "third.att.json"))
	sealenv(2, "verify", "docker://"+third, "--key", pub, "--attestation", tampered)

	// An image with findings: wrap --audit refuses it; pushed anyway and
	// audited, its failing verdict is a valid attestation that the policy
	// and sealenv verify refuse.
	sealenv(1, "wrap", leaky, "docker://"+host+"/sealenv-e2e/nope:1", "--bundle", f.Bundle, "--identity", f.Key, "--injector", inj, "--audit", "--attest-key", key)
	leak := host + "/sealenv-e2e/leaky:1"
	sealenv(0, "wrap", leaky, "docker://"+leak, "--bundle", f.Bundle, "--identity", f.Key, "--injector", inj)
	sealenv(1, "audit", "image", "docker://"+leak, "--bundle", f.Bundle, "--identity", f.Key, "--attest-key", key)
	if _, out, ok := cs.verifyAttestation(t, pub, leak); ok {
		t.Errorf("an unclean verdict was attached without --attest-failing: %s", out)
	}
	sealenv(1, "audit", "image", "docker://"+leak, "--bundle", f.Bundle, "--identity", f.Key, "--attest-key", key, "--attest-failing")
	sts, out, ok = cs.verifyAttestation(t, pub, leak)
	if !ok || len(sts) != 1 || sts[0].Predicate.Verdict != attest.VerdictFindings || sts[0].Predicate.Findings.High == 0 {
		t.Errorf("cosign verify-attestation of the failing verdict: %v: %s", ok, out)
	}
	if _, out, ok := cs.verifyAttestation(t, pub, leak, "--policy", cue); ok {
		t.Errorf("the CUE policy of docs/attest.md admits an image with findings: %s", out)
	}
	if res := sealenv(1, "verify", "docker://"+leak, "--key", pub); !strings.Contains(res.Stderr, "findings at or above medium") {
		t.Errorf("sealenv verify of the leaky image: %s", res.Stderr)
	}

	// Ed25519: cosign's encrypted key and the PKCS #8 key it came from.
	sealenv(0, "audit", "image", "docker://"+app, "--bundle", f.Bundle, "--identity", f.Key, "--attest-key", filepath.Join(dir, "ed-cosign.key"))
	if _, out, ok := cs.verifyAttestation(t, filepath.Join(dir, "ed-cosign.pub"), app); !ok {
		t.Errorf("cosign verify-attestation of an Ed25519 (cosign key) verdict: %s", out)
	}
	sealenv(0, "audit", "image", "docker://"+second, "--bundle", f.Bundle, "--identity", f.Key, "--attest-key", ed.Private)
	if _, out, ok := cs.verifyAttestation(t, ed.Public, second); !ok {
		t.Errorf("cosign verify-attestation of an Ed25519 (PKCS #8) verdict: %s", out)
	}
	sealenv(0, "verify", "docker://"+app, "--key", ed.Public)
	if _, out, ok := cs.verifyAttestation(t, pub, app); !ok {
		t.Errorf("the ECDSA verdict was replaced by the Ed25519 signer's: %s", out)
	}

	// The two-step path: sealenv writes the statement, cosign signs its
	// predicate (with a key here; keyless needs Fulcio and an OIDC token).
	fourth := host + "/sealenv-e2e/fourth:1"
	wrap(other("fourth"), "docker://"+fourth)
	stFile := filepath.Join(dir, "fourth.statement.json")
	sealenv(0, "audit", "image", "docker://"+fourth, "--bundle", f.Bundle, "--identity", f.Key, "--attest", stFile)
	var st struct {
		Subject   []attest.Subject `json:"subject"`
		Predicate json.RawMessage  `json:"predicate"`
	}
	data, err := os.ReadFile(stFile)
	if err != nil || json.Unmarshal(data, &st) != nil || len(st.Subject) != 1 {
		t.Fatalf("the statement: %v %s", err, data)
	}
	predFile := filepath.Join(dir, "fourth.predicate.json")
	writeFile(t, predFile, st.Predicate, 0o644)
	if out, ok := cs.run(t, keyEnv, "attest", "--yes", "--key", key, "--tlog-upload=false", "--type", attest.PredicateType,
		"--predicate", predFile, st.Subject[0].Name+"@sha256:"+st.Subject[0].Digest["sha256"]); !ok {
		t.Fatalf("cosign attest --predicate: %s", out)
	}
	sealenv(0, "verify", "docker://"+fourth, "--key", pub)
	if _, out, ok := cs.verifyAttestation(t, pub, fourth, "--policy", cue); !ok {
		t.Errorf("cosign's own attestation of the predicate fails the policy: %s", out)
	}

	// An OCI layout gets a referrer manifest; sealenv verify reads it.
	out1 := filepath.Join(dir, "out-oci")
	wrap(clean, "oci:"+out1, "--attest-key", key)
	sealenv(0, "verify", "oci:"+out1, "--key", pub)
	sealenv(2, "verify", "oci:"+out1, "--key", filepath.Join(otherDir, "other.pub"))
	leakOut := filepath.Join(dir, "leak-oci")
	sealenv(0, "wrap", leaky, "oci:"+leakOut, "--bundle", f.Bundle, "--identity", f.Key, "--injector", inj)
	sealenv(1, "audit", "image", "oci:"+leakOut, "--bundle", f.Bundle, "--identity", f.Key, "--attest-key", key, "--attest-failing")
	sealenv(1, "verify", "oci:"+leakOut, "--key", pub)
	sealenv(0, "audit", "image", "oci:"+out1, "--bundle", f.Bundle, "--identity", f.Key) // the attested layout audits complete and clean
	var idx v1.IndexManifest
	b, _ := os.ReadFile(filepath.Join(out1, "index.json"))
	if json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 2 || idx.Manifests[1].ArtifactType != attest.ArtifactType {
		t.Errorf("index.json of the attested layout: %s", b)
	}
}

// tamper rewrites the verdict of an envelope (clean made to say more
// bytes were searched) and keeps its signature.
func tamper(t *testing.T, in, out string) string {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var env attest.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	changed := regexp.MustCompile(`"bytes":\d+`).ReplaceAll(payload, []byte(`"bytes":1`))
	if bytes.Equal(changed, payload) {
		t.Fatal("nothing to tamper with")
	}
	env.Payload = base64.StdEncoding.EncodeToString(changed)
	b, _ := json.Marshal(env)
	writeFile(t, out, b, 0o644)
	return out
}

// TestAttestBuild: sealenv build --attest-verdict --attest-key attests the
// image it wrote (a multi-platform index with BuildKit's provenance
// attestation beside the image: the subject is the index), to an OCI
// layout and to a registry, where sealenv verify, and the real cosign when
// it is installed, accept it.
func TestAttestBuild(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	dir := t.TempDir()
	key := cosigntest.PKCS8(t, dir, "build", cosigntest.ECDSA(t))
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, dest := range []string{"oci:" + filepath.Join(dir, "built"), "docker://" + host + "/sealenv-e2e/built:1"} {
		verdict := filepath.Join(dir, "verdict.json")
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, Dest: dest,
			Flags: []string{"--attest", "provenance=max", "--attest-verdict", verdict, "--attest-key", key.Private}})
		r.want(t, 0)
		if !strings.Contains(r.Stderr, "attestation (clean) attached to "+dest) {
			t.Errorf("%s: stderr %s", dest, tail(r.Stderr, 5))
		}
		res := f.Run(t, dir, nil, nil, "verify", dest, "--key", key.Public)
		if res.Code != 0 {
			t.Fatalf("sealenv verify %s: exit %d: %s", dest, res.Code, res.Stderr)
		}
		if res = f.Run(t, dir, nil, nil, "verify", dest, "--key", key.Public, "--attestation", verdict); res.Code != 0 {
			t.Errorf("sealenv verify --attestation of %s: exit %d: %s", dest, res.Code, res.Stderr)
		}
		if strings.HasPrefix(dest, "oci:") {
			// The subject is the index (image and provenance), as index.json lists it.
			data, _ := os.ReadFile(verdict)
			env, err := attest.ParseEnvelope(data)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := base64.StdEncoding.DecodeString(env.Payload)
			st, err := attest.ParseStatement(payload)
			if err != nil {
				t.Fatal(err)
			}
			var idx v1.IndexManifest
			b, _ := os.ReadFile(filepath.Join(strings.TrimPrefix(dest, "oci:"), "index.json"))
			if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 2 ||
				idx.Manifests[0].Digest.Hex != st.Subject[0].Digest["sha256"] || !idx.Manifests[0].MediaType.IsIndex() {
				t.Errorf("the verdict is about sha256:%s; index.json: %s", st.Subject[0].Digest["sha256"], b)
			}
		}
		if strings.HasPrefix(dest, "docker://") && cosignFound() {
			cs := needCosign(t)
			if _, out, ok := cs.verifyAttestation(t, key.Public, strings.TrimPrefix(dest, "docker://")); !ok {
				t.Errorf("cosign verify-attestation of the built image: %s", out)
			}
		}
	}
}

// cosignFound reports whether needCosign would find cosign.
func cosignFound() bool {
	if os.Getenv("SEALENV_COSIGN") != "" {
		return true
	}
	if _, err := exec.LookPath("cosign"); err == nil {
		return true
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return false
	}
	for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
		if isExecutable(filepath.Join(d, "bin", "cosign")) {
			return true
		}
	}
	return false
}
