package policies_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

// fixture is a repository with prod and staging (see policytest).
type fixture = policytest.Fixture

func check(f *fixture, p *policies.Policy, ids ...age.Identity) []policies.Violation {
	f.T.Helper()
	vs, err := p.Check(policies.CheckOptions{Now: f.Now, Identities: ids})
	if err != nil {
		f.T.Fatal(err)
	}
	return vs
}

// has reports the violations with a rule (and key, if not "").
func has(vs []policies.Violation, rule, env, key string) []policies.Violation {
	var out []policies.Violation
	for _, v := range vs {
		if v.Rule == rule && (env == "" || v.Env == env) && (key == "" || v.Key == key) {
			out = append(out, v)
		}
	}
	return out
}

func rules(vs []policies.Violation) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Env+"/"+v.Rule+"/"+v.Key)
	}
	return strings.Join(s, " ")
}

func TestCheckClean(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "keys:\n  API_TOKEN: {required: true, min_length: 32, max_age: 30d, warn_before: 7d}\n")
	f.Bundle("prod", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	if vs := check(f, p, f.Alice); len(vs) != 0 {
		t.Fatalf("clean repository has violations: %s", rules(vs))
	}
}

func TestCheckRecipientsDrift(t *testing.T) {
	f := policytest.New(t)
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Alice)
	// bob is added to the policy: both bundles must be rekeyed to him
	p := f.Policy([]*age.X25519Identity{f.Alice, f.Bob}, "")
	vs := check(f, p)
	if len(has(vs, policies.RuleRecipientMissing, "prod", "")) != 1 || len(has(vs, policies.RuleRecipientMissing, "staging", "")) != 1 {
		t.Fatalf("added recipient: %s", rules(vs))
	}
	if !strings.Contains(has(vs, policies.RuleRecipientMissing, "prod", "")[0].Message, "person1") {
		t.Error("drift message does not name the owner")
	}
	// after rekey --all, clean
	if _, err := fleet.RekeyAll(p, []age.Identity{f.Alice}, f.Clock); err != nil {
		t.Fatal(err)
	}
	if vs := check(f, p); len(vs) != 0 {
		t.Fatalf("after rekey: %s", rules(vs))
	}
	// bob is removed again: the bundles are still wrapped to him
	p = f.Policy([]*age.X25519Identity{f.Alice}, "")
	vs = check(f, p)
	if len(has(vs, policies.RuleRecipientRemoved, "", "")) != 2 {
		t.Fatalf("removed recipient: %s", rules(vs))
	}
	plans, err := fleet.PlanRekeyAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans[0].Remove) != 1 || len(plans[0].Exposed) != 1 || plans[0].Exposed[0] != "K" {
		t.Fatalf("plan: %+v", plans[0])
	}
	if _, err := fleet.RekeyAll(p, []age.Identity{f.Alice}, f.Clock); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	if _, err := seal.Open(seal.FormatDotenv, data, f.Bob); err == nil {
		t.Fatal("bob still opens the bundle after rekey --all")
	}
}

func TestCheckAgeWindowsAndGrace(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "keys:\n  API_TOKEN: {max_age: 30d, warn_before: 7d, grace: 48h, generator: {length: 32}}\n")
	f.Bundle("prod", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"API_TOKEN": policytest.Random()}, f.Alice)
	for _, step := range []struct {
		day         int
		warn, error bool
	}{{22, false, false}, {23, true, false}, {29, true, false}, {30, false, true}, {45, false, true}} {
		f.Now = policytest.T0.Add(time.Duration(step.day) * 24 * time.Hour)
		vs := check(f, p)
		if got := len(has(vs, policies.RuleExpiring, "prod", "API_TOKEN")) > 0; got != step.warn {
			t.Errorf("day %d: expiring warning %v, want %v (%s)", step.day, got, step.warn, rules(vs))
		}
		if got := len(has(vs, policies.RuleMaxAge, "prod", "API_TOKEN")) > 0; got != step.error {
			t.Errorf("day %d: max-age error %v, want %v", step.day, got, step.error)
		}
	}
	for _, v := range has(check(f, p), policies.RuleExpiring, "", "") {
		if v.Severity != policies.SeverityWarning {
			t.Error("expiring is not a warning")
		}
	}
	// rotate --due at day 45 renews both, keeping grace values for 48h
	f.Now = policytest.T0.Add(45 * 24 * time.Hour)
	before, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	due, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Now: f.Clock, DryRun: true})
	if err != nil || len(due) != 2 {
		t.Fatalf("dry run: %v %v", due, err)
	}
	after, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	if !bytes.Equal(before, after) {
		t.Fatal("dry run changed a bundle")
	}
	if _, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Now: f.Clock}); err != nil {
		t.Fatal(err)
	}
	if vs := check(f, p); len(vs) != 0 {
		t.Fatalf("after rotate --due: %s", rules(vs))
	}
	// the grace values expire after 48h
	f.Now = f.Now.Add(49 * time.Hour)
	vs := check(f, p)
	if len(has(vs, policies.RuleGraceExpired, "prod", "API_TOKEN_PREVIOUS")) != 1 {
		t.Fatalf("grace expiry: %s", rules(vs))
	}
}

func TestCheckKeysAndValues(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, `keys:
  API_TOKEN: {required: true, min_length: 32}
  DATABASE_URL: {required: true, pattern: '^postgres://'}
  SIGNING_KEY: {generator: {length: 32}}
  PIN: {min_length: 4}
`)
	shared := policytest.Random()
	f.Bundle("prod", map[string]string{
		"API_TOKEN": "changeme", "DATABASE_URL": "mysql://x", "SIGNING_KEY": "abcabcabcabcabcabcabc",
		"PIN": "aaaabbbbaaaabbbb", "SURPRISE": "x", "SHARED": shared,
	}, f.Alice)
	f.Bundle("staging", map[string]string{"API_TOKEN": policytest.Random(), "SHARED_TOO": shared}, f.Alice)
	// without a key: names and metadata only
	vs := check(f, p)
	if len(has(vs, policies.RuleRequiredMissing, "staging", "DATABASE_URL")) != 1 {
		t.Errorf("required missing: %s", rules(vs))
	}
	if len(has(vs, policies.RuleUnknownKey, "prod", "SURPRISE")) != 1 {
		t.Errorf("unknown key: %s", rules(vs))
	}
	if len(has(vs, policies.RulePlaceholder, "", "")) != 0 || len(has(vs, policies.RuleReused, "", "")) != 0 {
		t.Error("values checked without an identity")
	}
	// with a key: every value against its rule, and reuse across environments
	vs = check(f, p, f.Alice)
	for _, want := range []struct{ rule, key string }{
		{policies.RulePlaceholder, "API_TOKEN"}, {policies.RuleMinLength, "API_TOKEN"},
		{policies.RulePattern, "DATABASE_URL"}, {policies.RuleRepeated, "SIGNING_KEY"},
		{policies.RuleLowEntropy, "PIN"},
	} {
		if len(has(vs, want.rule, "prod", want.key)) != 1 {
			t.Errorf("%s on %s missing: %s", want.rule, want.key, rules(vs))
		}
	}
	reused := has(vs, policies.RuleReused, "", "")
	if len(reused) != 1 || !strings.Contains(reused[0].Message, "SHARED in prod") || !strings.Contains(reused[0].Message, "SHARED_TOO in staging") {
		t.Fatalf("reuse: %s", rules(vs))
	}
	for _, v := range vs {
		for _, val := range []string{shared, "changeme", "mysql://x", "abcabc", "aaaabbbb"} {
			if strings.Contains(v.Message, val) {
				t.Fatalf("violation message contains a value: %q", v.Message)
			}
		}
		if v.Line == 0 && v.Key != "" && v.Rule != policies.RuleRequiredMissing && v.Rule != policies.RuleReused {
			t.Errorf("%s on %s has no line", v.Rule, v.Key)
		}
	}
}

func TestCheckUnsealedAndMissing(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	os.WriteFile(filepath.Join(f.Dir, "secrets", "staging.env"), []byte("K=plaintext\n"), 0o644)
	vs := check(f, p)
	if len(has(vs, policies.RuleNotSealed, "staging", "")) != 1 {
		t.Fatalf("unsealed: %s", rules(vs))
	}
	os.Remove(filepath.Join(f.Dir, "secrets", "staging.env"))
	if vs := check(f, p); len(has(vs, policies.RuleBundleMissing, "staging", "")) != 1 {
		t.Fatalf("missing: %s", rules(vs))
	}
}

// TestCheckHintsRotateOnlyWithAGenerator: check tells a person to run
// sealenv rotate only for a key whose policy generates its values; for any
// other (a database URL) rotate's random default would destroy the value,
// so the hint is a value by hand (rotate --stdin).
func TestCheckHintsRotateOnlyWithAGenerator(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "keys:\n"+
		"  API_TOKEN: {max_age: 30d, warn_before: 7d, generator: {length: 32}}\n"+
		"  DATABASE_URL: {max_age: 30d, warn_before: 7d, pattern: '^postgres://'}\n")
	values := map[string]string{"API_TOKEN": policytest.Random(), "DATABASE_URL": "postgres://u:" + policytest.Random() + "@db/app"}
	f.Bundle("prod", values, f.Alice)
	f.Bundle("staging", values, f.Alice)
	for _, day := range []int{25, 31} { // expiring (warning), then past max_age (error)
		f.Now = policytest.T0.Add(time.Duration(day) * 24 * time.Hour)
		vs := check(f, p)
		seen := 0
		for _, rule := range []string{policies.RuleExpiring, policies.RuleMaxAge} {
			for _, v := range has(vs, rule, "prod", "") {
				seen++
				switch v.Key {
				case "API_TOKEN":
					if !strings.HasSuffix(v.Message, "sealenv rotate secrets/prod.env API_TOKEN") {
						t.Errorf("day %d: %s", day, v.Message)
					}
				case "DATABASE_URL":
					if !strings.Contains(v.Message, "sealenv rotate --stdin secrets/prod.env DATABASE_URL (the policy has no generator for DATABASE_URL") {
						t.Errorf("day %d: %s", day, v.Message)
					}
				}
			}
		}
		if seen != 2 {
			t.Errorf("day %d: %d age violations in prod, want 2: %s", day, seen, rules(vs))
		}
	}
}
