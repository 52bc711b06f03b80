package main

import (
	"strings"
	"testing"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// TestOnlyPassesListedKeys: --only is least privilege for one bundle that
// feeds several services.
func TestOnlyPassesListedKeys(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// TestRedirectingNamesNeedAService: a proxy in a bundle (anyone with the
// public recipient can write one) is refused unless the image's entrypoint
// allows it: --allow-name, or --only listing it (what `sealenv wrap
// --service` writes from the policy's services: keys). --only does not
// allow a name that loads code.
func TestRedirectingNamesNeedAService(t *testing.T) {
	t.Parallel()
	k := injecttest.NewKey(t)
	dir := t.TempDir()
	token, proxy := injecttest.Value(t, "tok-"), "http://user:"+injecttest.Value(t, "pw-")+"@proxy.internal:3128"
	values := map[string]string{"API_TOKEN": token, "HTTPS_PROXY": proxy}
	b := injecttest.Write(t, dir, "svc.env", []injecttest.Key{k},
		injecttest.Entry{Name: "API_TOKEN", Value: token}, injecttest.Entry{Name: "HTTPS_PROXY", Value: proxy})
	conf := injecttest.Write(t, dir, "conf.env", []injecttest.Key{k}, injecttest.Entry{Name: "OPENSSL_CONF", Value: "/tmp/evil.cnf"})
	key := seal.EnvAgeKey + "=" + k.Text

	res := runInject(t, env(key), []string{"--bundle", b}, "report")
	if res.code != 125 || res.stdout != "" {
		t.Fatalf("no allow: exit %d, stdout %q", res.code, res.stdout)
	}
	if e := errorLine(t, res.stderr); !strings.Contains(e, "key HTTPS_PROXY could redirect") || !strings.Contains(e, "--only HTTPS_PROXY") || !strings.Contains(e, "--allow-name HTTPS_PROXY") {
		t.Errorf("error %q does not name the key, the reason and both allows", e)
	}
	noValues(t, "stderr", res.stderr, values)

	for _, flags := range [][]string{{"--only", "API_TOKEN", "--only", "HTTPS_PROXY"}, {"--allow-name", "HTTPS_PROXY"}} {
		res = runInject(t, env(key), append([]string{"--bundle", b, "--no-access-log"}, flags...), "report")
		if res.code != 0 {
			t.Fatalf("%v: exit %d: %s", flags, res.code, res.stderr)
		}
		if got := envMap(parseReport(t, res.stdout).Environ); got["HTTPS_PROXY"] != proxy || got["API_TOKEN"] != token {
			t.Errorf("%v: the child did not get both values", flags)
		}
	}

	res = runInject(t, env(key), []string{"--bundle", conf, "--only", "OPENSSL_CONF"}, "report")
	if res.code != 125 || !strings.Contains(res.stderr, "key OPENSSL_CONF could change what code") {
		t.Errorf("--only OPENSSL_CONF: exit %d, stderr %q; want 125: only --allow-name allows a name that loads code", res.code, res.stderr)
	}
}

// sopsIdentityVars are the variables through which sops v3.13.3 finds a
// private key or a command that prints one (age/keysource.go): none may
// reach the command, which could otherwise decrypt every bundle the key
// opens, or run the command. sopsConfigVars name public recipients and
// settings, and stay.
var (
	sopsIdentityVars = []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD",
		"SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_CMD"}
	sopsConfigVars = []string{"SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "SOPS_KMS_ARN", "SOPS_CONFIG", "GNUPGHOME"}
)

// TestSopsIdentityVariablesNeverReachTheChild: every identity variable sops
// knows is removed from the command's environment, in both modes, whichever
// source gave the injector its own key; sops's settings stay.
func TestSopsIdentityVariablesNeverReachTheChild(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	environ := env(seal.EnvAgeKey + "=" + f.key.Text)
	for _, v := range sopsIdentityVars {
		if v != "SOPS_AGE_KEY" {
			environ = append(environ, v+"=/run/secrets/"+strings.ToLower(v))
		}
	}
	environ = append(environ, "SOPS_AGE_KEY="+injecttest.NewKey(t).Text)
	for _, v := range sopsConfigVars {
		environ = append(environ, v+"=kept")
	}
	for _, mode := range [][]string{nil, {"--supervise"}} {
		res := runInject(t, environ, append([]string{"--bundle", f.bundle, "--no-access-log"}, mode...), "report")
		if res.code != 0 {
			t.Fatalf("%v: exit %d: %s", mode, res.code, res.stderr)
		}
		got := envMap(parseReport(t, res.stdout).Environ)
		for _, v := range sopsIdentityVars {
			if _, ok := got[v]; ok {
				t.Errorf("%v: %s reached the command", mode, v)
			}
		}
		for _, v := range sopsConfigVars {
			if got[v] != "kept" {
				t.Errorf("%v: %s was removed; it is a setting, not a key", mode, v)
			}
		}
	}

	// A bundle may not set one either, even when allowed.
	b := injecttest.Write(t, t.TempDir(), "cmd.env", []injecttest.Key{f.key}, injecttest.Entry{Name: "SOPS_AGE_KEY_CMD", Value: "cat /run/secrets/x"})
	res := runInject(t, env(seal.EnvAgeKey+"="+f.key.Text), []string{"--bundle", b, "--allow-name", "SOPS_AGE_KEY_CMD"}, "report")
	if res.code != inject.ExitFailure || !strings.Contains(res.stderr, "SOPS_AGE_KEY_CMD is an identity variable") {
		t.Errorf("a bundle setting SOPS_AGE_KEY_CMD: exit %d, stderr %q", res.code, res.stderr)
	}
}
