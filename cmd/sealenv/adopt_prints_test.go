package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sopsSetValue sets key of the bundle at path to value with the real sops
// (the value on stdin, the key in the environment); it skips the test when
// sops is not installed.
func sopsSetValue(t *testing.T, c *runner, keyFile, path, key, value string) {
	t.Helper()
	sops, err := exec.LookPath("sops")
	if err != nil {
		home, _ := os.UserHomeDir()
		if sops = filepath.Join(home, "go", "bin", "sops"); home == "" {
			t.Skip("sops is not installed")
		}
	}
	cmd := exec.Command(sops, "set", "--value-stdin", path, `["`+key+`"]`)
	id, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY="+string(id))
	cmd.Stdin = strings.NewReader(`"` + value + `"`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("sops set: %v: %.200s", err, out)
	}
}

// TestAdoptRenewsStalePrints: a value the real sops changed has a stale
// fingerprint: check warns fingerprint-stale with its way forward, a
// keyless audit is incomplete naming the key, sealenv adopt (with nothing
// else to adopt but the fingerprint) records a new one, and the keyless
// audit then finds the new value and passes a clean image.
func TestAdoptRenewsStalePrints(t *testing.T) {
	c := newParallelCLI(t)
	me := c.keygen("me.txt")
	keyed := append(append([]string{}, c.env...), "SEALENV_AGE_KEY_FILE="+c.path("me.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients: [{key: "+me+"}]\n"), 0o644)
	c.env = keyed
	c.ok("API_TOKEN="+strongSecret(t)+"\nDB_PASSWORD="+strongSecret(t)+"\n", "seal", "--env", "prod", "-i", "-")
	c.ok("", "adopt", "secrets/prod.env") // as sealenv recorded it
	if r := c.ok("", "check", "--format", "json"); strings.Contains(r.stdout, "fingerprint-") {
		t.Fatalf("a fresh bundle has fingerprint warnings: %s", r.stdout)
	}

	token := strongSecret(t)
	sopsSetValue(t, c, c.path("me.txt"), c.path("secrets/prod.env"), "API_TOKEN", token)
	writeTestImage(t, c.path("leak.tar"), nil, map[string]string{"app/token": token})
	writeTestImage(t, c.path("clean.tar"), nil, map[string]string{"etc/motd": "hello"})

	r := c.ok("", "check", "--format", "json")
	if !strings.Contains(r.stdout, `"rule": "fingerprint-stale"`) || !strings.Contains(r.stdout, "sealenv adopt secrets/prod.env") || strings.Contains(r.stdout, "DB_PASSWORD has") {
		t.Fatalf("check does not report the stale fingerprint of API_TOKEN alone: %s", r.stdout)
	}
	for _, img := range []string{"leak.tar", "clean.tar"} {
		r = c.run("", "audit", "image", "--no-identity", img)
		if r.code != 2 || !strings.Contains(r.stdout, "(stale fingerprint): API_TOKEN") {
			t.Fatalf("%s: keyless audit with a stale fingerprint: exit %d: %s %s", img, r.code, r.stdout, r.stderr)
		}
	}

	r = c.ok("", "adopt", "secrets/prod.env")
	if !strings.Contains(r.stderr, "fingerprints of API_TOKEN,") && !strings.Contains(r.stderr, "fingerprints of API_TOKEN ") {
		t.Fatalf("adopt does not say it renewed API_TOKEN's fingerprint: %s", r.stderr)
	}
	if r = c.ok("", "adopt", "secrets/prod.env"); !strings.Contains(r.stderr, "nothing to adopt") {
		t.Fatalf("a second adopt wrote again: %s", r.stderr)
	}
	if r = c.ok("", "check", "--format", "json"); strings.Contains(r.stdout, "fingerprint-") {
		t.Fatalf("check still warns after adopt: %s", r.stdout)
	}
	c.ok("", "audit", "image", "--no-identity", "clean.tar")
	r = c.run("", "audit", "image", "--no-identity", "--format", "json", "leak.tar")
	if r.code != 1 || !strings.Contains(r.stdout, `"API_TOKEN"`) {
		t.Fatalf("keyless audit after adopt does not find the new value: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}
