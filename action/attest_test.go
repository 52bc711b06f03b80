package action

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
)

// push copies a docker archive to host/repo:1 and returns the reference
// and its manifest digest.
func push(t *testing.T, archive, host, repo string) (string, string) {
	t.Helper()
	img, err := tarball.ImageFromPath(strings.TrimPrefix(archive, "docker-archive:"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return "docker://" + ref.String(), d.String()
}

// stubCosign puts a cosign on the job's PATH that records its arguments and
// the predicate it was given. Keyless signing needs Fulcio, Rekor and a
// GitHub OIDC token, none of which a test has; the real cosign's acceptance
// of `cosign attest --predicate` with sealenv's predicate is checked in
// e2e/attest_test.go (with a key). This checks the step's plumbing: what it
// runs cosign with, and when it does not.
func stubCosign(t *testing.T, j *job) (argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n" +
		"while [ $# -gt 0 ]; do [ \"$1\" = --predicate ] && cp \"$2\" " + argsFile + ".predicate; shift; done\n"
	if err := os.WriteFile(filepath.Join(dir, "cosign"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(j.pathFile, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(dir + "\n")
	f.Close()
	return argsFile
}

// TestActionAttest runs action.yml with attest: true: keyless (cosign attest
// of the statement's predicate for the image's digest, only with an OIDC
// token, a registry image and cosign), with attest-key (sealenv signs and
// attaches; sealenv verify checks it), and nothing attested for a verdict
// that is not clean.
func TestActionAttest(t *testing.T) {
	t.Parallel()
	needTools(t)
	rel := makeRelease(t)
	dir := t.TempDir()
	secret := value(t)
	cleanArchive, leakyArchive := images(t, rel, dir, secret)
	bundle, key := sealed(t, rel, dir, secret)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	clean, digest := push(t, cleanArchive, host, "app")
	leaky, _ := push(t, leakyArchive, host, "leaky")
	oidc := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:1/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=stand-in"}
	with := func(kv ...string) map[string]string {
		// A pinned sha256: the stand-in cosign must not be asked to verify
		// the stand-in release's signature, which it has none of.
		m := map[string]string{"version": version, "release-url": "file://" + rel.dir, "sha256": fileSHA256(t, rel.archive), "sarif-file": "", "attest": "true"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	t.Run("keyless", func(t *testing.T) {
		j := newJob(t)
		j.env = oidc
		args := stubCosign(t, j)
		res := j.use(with("image", clean))
		if res.code != 0 || strings.Join(res.steps, ",") != "install,audit,attest" {
			t.Fatalf("exit %d, steps %v: %s", res.code, res.steps, res.log)
		}
		got, err := os.ReadFile(args)
		if err != nil {
			t.Fatalf("cosign was not run: %s", res.log)
		}
		want := []string{"attest", "--yes", "--type", "https://sealenv.dev/audit/v1", "--predicate", "PREDICATE", host + "/app@" + digest}
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		if len(lines) == len(want) {
			lines[5] = "PREDICATE"
		}
		if strings.Join(lines, " ") != strings.Join(want, " ") {
			t.Errorf("cosign %v, want %v", lines, want)
		}
		var pred struct {
			Verdict  string
			Complete bool
		}
		b, _ := os.ReadFile(args + ".predicate")
		if json.Unmarshal(b, &pred) != nil || pred.Verdict != "clean" || !pred.Complete {
			t.Errorf("the predicate cosign signed: %s", b)
		}
		if res.outputs["attestation"] == "" || !strings.Contains(j.summaryText(), "signed keyless by this job") {
			t.Errorf("outputs %v; summary %s", res.outputs, j.summaryText())
		}
	})

	t.Run("keyless needs", func(t *testing.T) {
		for name, tc := range map[string]struct {
			env   []string
			image string
			cos   bool
			want  string
		}{
			"an OIDC token": {nil, clean, true, "permissions: id-token: write"},
			"cosign":        {oidc, clean, false, "sigstore/cosign-installer"},
		} {
			j := newJob(t)
			j.env = tc.env
			var args string
			if tc.cos {
				args = stubCosign(t, j)
			}
			res := j.use(with("image", tc.image))
			if res.code != 2 || !strings.Contains(res.log, "::error title=sealenv attest::") || !strings.Contains(res.log, tc.want) {
				t.Errorf("without %s: exit %d: %s", name, res.code, res.log)
			}
			if args != "" {
				if _, err := os.Stat(args); err == nil {
					t.Errorf("without %s, cosign ran", name)
				}
			}
		}
		// A docker archive has no digest to attest: the audit says so.
		j := newJob(t)
		j.env = oidc
		res := j.use(with("image", cleanArchive))
		if res.code != 2 || !strings.Contains(res.log, "push it and audit docker://REF") {
			t.Errorf("a docker archive: exit %d: %s", res.code, res.log)
		}
	})

	t.Run("not clean", func(t *testing.T) {
		j := newJob(t)
		j.env = append([]string{"SEALENV_AGE_KEY_FILE=" + key}, oidc...)
		args := stubCosign(t, j)
		res := j.use(with("image", leaky, "bundles", bundle, "fail-on-findings", "false"))
		if res.code != 0 || !strings.Contains(res.log, "nothing was attested") || res.outputs["attestation"] != "" {
			t.Errorf("exit %d, outputs %v: %s", res.code, res.outputs, res.log)
		}
		if _, err := os.Stat(args); err == nil {
			t.Error("cosign ran for a verdict with findings")
		}
		if strings.Contains(res.log, secret) {
			t.Error("the log holds the value")
		}
	})

	t.Run("attest-key", func(t *testing.T) {
		k := cosigntest.Encrypted(t, dir, "ci", cosigntest.ECDSA(t))
		j := newJob(t)
		j.env = []string{"COSIGN_PASSWORD=" + k.Password}
		res := j.use(with("image", clean, "attest-key", k.Private))
		if res.code != 0 || res.outputs["attestation"] == "" {
			t.Fatalf("exit %d, outputs %v: %s", res.code, res.outputs, res.log)
		}
		if strings.Contains(res.log, k.Password) {
			t.Error("the log holds the key's password")
		}
		cmd := exec.Command(rel.sealenv, "verify", "--key", k.Public, clean)
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sealenv verify of the attested image: %v: %s", err, out)
		}
	})
}
