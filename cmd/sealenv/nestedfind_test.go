package main

import (
	"os"
	"strings"
	"testing"
)

// TestNestedPolicyRefused: in a real git repository, an attacker's
// secrets/sealenv.yaml wraps prod.env to the attacker's key. Every command
// that finds its policy (from secrets/, or through the bundle's directory
// from the root) refuses it with one line that names the root policy,
// nested_policies and the review command, and the bundle is unchanged.
// Once the root policy names it, it is used.
func TestNestedPolicyRefused(t *testing.T) {
	c := newParallelCLI(t)
	git, env := gitRepo(t, c)
	must := func(args ...string) {
		t.Helper()
		if out, err := git(args...); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	alice := c.keygen("alice.txt")
	mallory := c.keygen("mallory.txt")
	c.env = append(env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	root := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n      - {key: " + alice + ", owner: alice}\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(root), 0o644)
	c.ok("API_TOKEN="+secret(t, "tok")+"\n", "seal", "--env", "prod", "-i", "-")
	os.WriteFile(c.path(".gitignore"), []byte("*.txt\n"), 0o644)
	must("add", "-A")
	must("commit", "-q", "-m", "base")
	before := digest(t, c.path("secrets/prod.env"))

	os.WriteFile(c.path("secrets/sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+mallory+"}]}\n"), 0o644)
	must("add", "-A")
	must("commit", "-q", "-m", "ci: add the deploy key")

	sub := *c
	sub.dir = c.path("secrets")
	const want = "does not name it in nested_policies"
	for _, args := range [][]string{
		{"rekey", "--all"},
		{"check"},
		{"set", "--env", "prod", "NEW_TOKEN"},
		{"show", "--env", "prod"},
	} {
		r := sub.fails(want, secret(t, "new")+"\n", args...)
		for _, part := range []string{c.path("sealenv.yaml"), "git log --format='%h %an' -- secrets/sealenv.yaml"} {
			if !strings.Contains(r.stderr, part) {
				t.Errorf("sealenv %s from secrets/: stderr lacks %q: %s", strings.Join(args, " "), part, r.stderr)
			}
		}
	}
	// From the root, a write finds the bundle's policy from its directory.
	c.fails(want, secret(t, "new")+"\n", "set", "secrets/prod.env", "NEW_TOKEN")
	if digest(t, c.path("secrets/prod.env")) != before {
		t.Fatal("a command changed the bundle under the attacker's policy")
	}

	// Named by the root policy (with a bundle of its own), it is used.
	os.WriteFile(c.path("sealenv.yaml"), []byte(root+"nested_policies: [{path: secrets/sealenv.yaml, reason: the tools' own policy}]\n"), 0o644)
	os.WriteFile(c.path("secrets/sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: tools, bundle: tools.env, recipients: [{key: "+alice+"}]}\n"), 0o644)
	sub.ok("TOOL_TOKEN="+secret(t, "tool")+"\n", "seal", "--env", "tools", "-i", "-")
	if _, err := os.Stat(c.path("secrets/tools.env")); err != nil {
		t.Fatalf("the named nested policy was not used: %v", err)
	}
	// A root policy that does not parse says so, never passes over it.
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: [\n"), 0o644)
	sub.fails("cannot tell whether", "", "check")
}
