package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckBaseAttackersPullRequest simulates an attacker's pull request
// in a real git repository: one commit adds the attacker's key as a
// recipient, a nested secrets/sealenv.yaml that wraps prod.env to it, and
// NODE_OPTIONS to allow_names. check --base main reports each (the
// recipient with the commit's author), exits 1, and no hint tells anyone
// to rekey before a review; a base that is no commit is exit 2; a change
// that only adds a generator passes with --trust-changes warning and
// fails without it.
func TestCheckBaseAttackersPullRequest(t *testing.T) {
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := mustGit(t, git)
	alice := c.keygen("alice.txt")
	mallory := c.keygen("mallory.txt")
	c.env = append(env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	policy := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n      - {key: " + alice + ", owner: alice}\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.ok("API_TOKEN="+secret(t, "tok")+"\n", "seal", "--env", "prod", "-i", "-")
	os.WriteFile(c.path(".gitignore"), []byte("*.txt\n"), 0o644)
	must("add", "-A")
	must("commit", "-q", "-m", "base")
	if r := c.run("", "check", "--base", "main"); r.code != 0 {
		t.Fatalf("check --base of no change: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}

	// The attacker's pull request.
	must("checkout", "-q", "-b", "pr")
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"      - {key: "+mallory+", owner: ci}\n    allow_names: [NODE_OPTIONS]\n"), 0o644)
	os.WriteFile(c.path("secrets/sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+mallory+"}]}\n"), 0o644)
	must("add", "-A")
	must("-c", "user.name=Mallory", "-c", "user.email=mallory@example.net", "commit", "-q", "--author=Mallory <mallory@example.net>", "-m", "ci: add the deploy key")

	r := c.run("", "check", "--base", "main")
	if r.code != 1 {
		t.Fatalf("check --base main: exit %d, want 1: %s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"sealenv.yaml: error [prod] recipient-added: ",
		"added by ", "Mallory <mallory@example.net>",
		"allow-names-widened: ", "NODE_OPTIONS",
		"secrets/sealenv.yaml: error nested-policy: ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check --base lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "sealenv rekey") && !strings.Contains(line, "review") && !strings.Contains(line, "before anyone runs") {
			t.Errorf("a hint completes the attack: %s", line)
		}
	}
	// Without --base the nested policy still fails the check.
	if r := c.run("", "check"); r.code != 1 || !strings.Contains(r.stdout, "nested-policy") {
		t.Fatalf("check: exit %d: %s", r.code, r.stdout)
	}
	// JSON names each rule.
	js := c.run("", "check", "--base", "main", "--format", "json").stdout
	for _, rule := range []string{`"rule": "recipient-added"`, `"rule": "allow-names-widened"`, `"rule": "nested-policy"`} {
		if !strings.Contains(js, rule) {
			t.Errorf("json lacks %s", rule)
		}
	}
	c.fails("--base", "", "check", "--base", "no-such-ref")
	c.fails("--trust-changes", "", "check", "--base", "main", "--trust-changes", "maybe")

	// A reviewed change that only adds a generator: an error by default,
	// a warning (exit 0) when asked.
	must("checkout", "-q", "main")
	must("checkout", "-q", "-b", "gen")
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"keys:\n  API_TOKEN: {generator: {length: 32}}\n"), 0o644)
	must("commit", "-q", "-am", "generator")
	if r := c.run("", "check", "--base", "main"); r.code != 1 || !strings.Contains(r.stdout, "generator-changed") {
		t.Fatalf("generator: exit %d: %s", r.code, r.stdout)
	}
	if r := c.run("", "check", "--base", "main", "--trust-changes", "warning"); r.code != 0 || !strings.Contains(r.stdout, "warning generator-changed") {
		t.Fatalf("generator as warning: exit %d: %s", r.code, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "secrets", "sealenv.yaml")); err == nil {
		t.Fatal("the attacker's nested policy is on main")
	}
}

// TestHookMergeShowsTrustChanges: the pre-merge-commit hook that sealenv
// hook install writes runs check --base HEAD: a merge that adds a
// recipient goes through (the merge is the reviewer's act) and says so.
func TestHookMergeShowsTrustChanges(t *testing.T) {
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := mustGit(t, git)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	c.env = append(env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	policy := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n      - {key: " + alice + "}\n"
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.ok("API_TOKEN="+strongSecret(t)+"\n", "seal", "--env", "prod", "-i", "-")
	os.WriteFile(c.path(".gitignore"), []byte("*.txt\n"), 0o644)
	must("add", "-A")
	must("commit", "-q", "-m", "base")
	c.ok("", "hook", "install")
	must("checkout", "-q", "-b", "bob")
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy+"      - {key: "+bob+", owner: bob}\n"), 0o644)
	c.ok("", "rekey", "--env", "prod")
	must("commit", "-q", "-am", "add bob")
	must("checkout", "-q", "main")
	out := must("merge", "--no-ff", "-m", "merge bob", "bob")
	if !strings.Contains(out, "warning [prod] recipient-added") || !strings.Contains(out, "(t <t@example.com>)") {
		t.Errorf("merge output does not show the trust change:\n%s", out)
	}
}
