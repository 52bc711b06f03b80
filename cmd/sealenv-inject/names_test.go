package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// TestDeclaredNames: with --names, the injector runs only the names the
// file declares. A forged bundle (anyone with the recipient's public key
// can write one) that adds a name nobody declared, whether or not the
// denylist knows it, is refused with exit 125 and one line naming the key,
// never its value; a missing or malformed list refuses too.
func TestDeclaredNames(t *testing.T) {
	t.Parallel()
	key := injecttest.NewKey(t)
	dir := t.TempDir()
	token, shell := injecttest.Value(t, "tok-"), injecttest.Value(t, "sh-")
	good := injecttest.Write(t, dir, "good.env", []injecttest.Key{key}, injecttest.Entry{Name: "API_TOKEN", Value: token})
	forged := injecttest.Write(t, dir, "forged.env", []injecttest.Key{key},
		injecttest.Entry{Name: "API_TOKEN", Value: token}, injecttest.Entry{Name: "Npm_Config_Script_Shell", Value: shell})
	extra := injecttest.Write(t, dir, "extra.env", []injecttest.Key{key},
		injecttest.Entry{Name: "API_TOKEN", Value: token}, injecttest.Entry{Name: "APP_LOADER_X", Value: shell})
	names := filepath.Join(dir, "names")
	os.WriteFile(names, []byte("# declared by sealenv.yaml\nAPI_TOKEN\nDB_PASSWORD\n"), 0o644)
	environ := env(seal.EnvAgeKey + "=" + key.Text)

	r := runInject(t, environ, []string{"--bundle", good, "--names", names, "--no-access-log"}, "report")
	if r.code != 0 {
		t.Fatalf("a declared bundle: exit %d: %s", r.code, r.stderr)
	}
	if got := envMap(parseReport(t, r.stdout).Environ); got["API_TOKEN"] != token {
		t.Errorf("API_TOKEN not passed on")
	}
	for bundle, name := range map[string]string{forged: "Npm_Config_Script_Shell", extra: "APP_LOADER_X"} {
		r := runInject(t, environ, []string{"--bundle", bundle, "--names", names, "--allow-name", name, "--no-access-log"}, "report")
		if r.code != 125 || strings.Count(r.stderr, "sealenv-inject: error: ") != 1 || !strings.Contains(r.stderr, "key "+name+" is not among the names --names "+names+" declares") {
			t.Errorf("%s: exit %d, stderr %q", name, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, shell) || strings.Contains(r.stdout, shell) {
			t.Fatalf("%s: the value got out", name)
		}
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("API_TOKEN\nnot a name\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n"), 0o644)
	for file, want := range map[string]string{filepath.Join(dir, "missing"): "missing", bad: "line 2 is not an environment variable name", empty: "declares no name"} {
		r := runInject(t, environ, []string{"--bundle", good, "--names", file, "--no-access-log"}, "report")
		if r.code != 125 || !strings.Contains(r.stderr, want) {
			t.Errorf("--names %s: exit %d, stderr %q", file, r.code, r.stderr)
		}
	}
}
