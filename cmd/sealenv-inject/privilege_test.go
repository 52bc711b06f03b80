package main

import (
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// TestOnlyPassesListedKeys: --only is least privilege for one bundle that
// feeds several services.
func TestOnlyPassesListedKeys(t *testing.T) {
	f := newFixture(t)
	key := seal.EnvAgeKey + "=" + f.key.Text
	res := runInject(t, env(key), []string{"--bundle", f.bundle, "--only", "API_TOKEN", "--no-access-log"}, "report")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	got := envMap(parseReport(t, res.stdout).Environ)
	if got["API_TOKEN"] != f.values["API_TOKEN"] {
		t.Error("the listed key did not reach the command")
	}
	if _, ok := got["DB_PASSWORD"]; ok {
		t.Error("a key not listed in --only reached the command")
	}
	res = runInject(t, env(key), []string{"--bundle", f.bundle, "--only", "NOPE"}, "report")
	if res.code != 125 || !strings.Contains(res.stderr, "--only NOPE") || res.stdout != "" {
		t.Fatalf("--only with an unknown key: exit %d, stderr %q", res.code, res.stderr)
	}
	noValues(t, "stderr", res.stderr, f.values)
}

// TestUnauthenticatedKeysFailClosed: in a SOPS file sealenv did not write,
// an empty value's name is not authenticated (anyone could have added
// "NODE_OPTIONS="); the injector refuses unless told otherwise.
func TestUnauthenticatedKeysFailClosed(t *testing.T) {
	k := injecttest.NewKey(t)
	secret := injecttest.Value(t, "tok-")
	path := injecttest.WriteSops(t, t.TempDir(), "sops.env", []injecttest.Key{k},
		injecttest.Entry{Name: "API_TOKEN", Value: secret}, injecttest.Entry{Name: "FEATURE_FLAG", Value: ""})
	key := seal.EnvAgeKey + "=" + k.Text
	res := runInject(t, env(key), []string{"--bundle", path}, "report")
	if res.code != 125 || res.stdout != "" || !strings.Contains(res.stderr, "FEATURE_FLAG") {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	noValues(t, "stderr", res.stderr, map[string]string{"API_TOKEN": secret})
	res = runInject(t, env(key), []string{"--bundle", path, "--allow-unauthenticated", "--no-access-log"}, "report")
	if res.code != 0 {
		t.Fatalf("--allow-unauthenticated: exit %d: %s", res.code, res.stderr)
	}
	if got := envMap(parseReport(t, res.stdout).Environ); got["API_TOKEN"] != secret || got["FEATURE_FLAG"] != "" {
		t.Error("values differ with --allow-unauthenticated")
	}
	// A sops file without empty or unencrypted values is fully authenticated.
	clean := injecttest.WriteSops(t, t.TempDir(), "clean.env", []injecttest.Key{k}, injecttest.Entry{Name: "API_TOKEN", Value: secret})
	if res := runInject(t, env(key), []string{"--bundle", clean, "--no-access-log"}, "report"); res.code != 0 {
		t.Fatalf("clean sops bundle: exit %d: %s", res.code, res.stderr)
	}
}
