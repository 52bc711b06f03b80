package policies_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t          *testing.T
	dir        string
	alice, bob *age.X25519Identity
	now        time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, dir: t.TempDir(), now: t0}
	var err error
	if f.alice, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	f.bob, _ = age.GenerateX25519Identity()
	return f
}

func (f *fixture) clock() time.Time { return f.now }

// policy writes sealenv.yaml with prod and staging, each for the given
// recipients, plus extra YAML, and loads it.
func (f *fixture) policy(recipients []*age.X25519Identity, extra string) *policies.Policy {
	f.t.Helper()
	var rs strings.Builder
	for i, r := range recipients {
		fmt.Fprintf(&rs, "      - {key: %s, owner: person%d}\n", r.Recipient(), i)
	}
	text := "version: 1\nenvironments:\n"
	for _, env := range []string{"prod", "staging"} {
		text += "  - name: " + env + "\n    bundle: secrets/" + env + ".env\n    recipients:\n" + rs.String()
	}
	text += extra
	path := filepath.Join(f.dir, policies.FileName)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	p, err := policies.Load(path)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// bundle writes secrets/ENV.env with values, sealed to recipients, at f.now.
func (f *fixture) bundle(env string, values map[string]string, recipients ...*age.X25519Identity) {
	f.t.Helper()
	var rs []string
	for _, r := range recipients {
		rs = append(rs, r.Recipient().String())
	}
	b, err := author.New(seal.FormatDotenv, rs)
	if err != nil {
		f.t.Fatal(err)
	}
	b.Now = f.clock
	for _, k := range sortedKeys(values) {
		if err := b.Set(k, []byte(values[k])); err != nil {
			f.t.Fatal(err)
		}
	}
	out, err := b.Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(f.dir, "secrets"), 0o755)
	if err := os.WriteFile(filepath.Join(f.dir, "secrets", env+".env"), out, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func (f *fixture) check(p *policies.Policy, ids ...age.Identity) []policies.Violation {
	f.t.Helper()
	vs, err := p.Check(policies.CheckOptions{Now: f.now, Identities: ids})
	if err != nil {
		f.t.Fatal(err)
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

func random(t *testing.T) string { return rand.Text() + rand.Text() }

func TestCheckClean(t *testing.T) {
	f := newFixture(t)
	p := f.policy([]*age.X25519Identity{f.alice}, "keys:\n  API_TOKEN: {required: true, min_length: 32, max_age: 30d, warn_before: 7d}\n")
	f.bundle("prod", map[string]string{"API_TOKEN": random(t)}, f.alice)
	f.bundle("staging", map[string]string{"API_TOKEN": random(t)}, f.alice)
	if vs := f.check(p, f.alice); len(vs) != 0 {
		t.Fatalf("clean repository has violations: %s", rules(vs))
	}
}

func TestCheckRecipientsDrift(t *testing.T) {
	f := newFixture(t)
	f.bundle("prod", map[string]string{"K": random(t)}, f.alice)
	f.bundle("staging", map[string]string{"K": random(t)}, f.alice)
	// bob is added to the policy: both bundles must be rekeyed to him
	p := f.policy([]*age.X25519Identity{f.alice, f.bob}, "")
	vs := f.check(p)
	if len(has(vs, policies.RuleRecipientMissing, "prod", "")) != 1 || len(has(vs, policies.RuleRecipientMissing, "staging", "")) != 1 {
		t.Fatalf("added recipient: %s", rules(vs))
	}
	if !strings.Contains(has(vs, policies.RuleRecipientMissing, "prod", "")[0].Message, "person1") {
		t.Error("drift message does not name the owner")
	}
	// after rekey --all, clean
	if _, err := fleet.RekeyAll(p, []age.Identity{f.alice}, f.clock); err != nil {
		t.Fatal(err)
	}
	if vs := f.check(p); len(vs) != 0 {
		t.Fatalf("after rekey: %s", rules(vs))
	}
	// bob is removed again: the bundles are still wrapped to him
	p = f.policy([]*age.X25519Identity{f.alice}, "")
	vs = f.check(p)
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
	if _, err := fleet.RekeyAll(p, []age.Identity{f.alice}, f.clock); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(f.dir, "secrets", "prod.env"))
	if _, err := seal.Open(seal.FormatDotenv, data, f.bob); err == nil {
		t.Fatal("bob still opens the bundle after rekey --all")
	}
}

func TestCheckAgeWindowsAndGrace(t *testing.T) {
	f := newFixture(t)
	p := f.policy([]*age.X25519Identity{f.alice}, "keys:\n  API_TOKEN: {max_age: 30d, warn_before: 7d, grace: 48h, generator: {length: 32}}\n")
	f.bundle("prod", map[string]string{"API_TOKEN": random(t)}, f.alice)
	f.bundle("staging", map[string]string{"API_TOKEN": random(t)}, f.alice)
	for _, step := range []struct {
		day         int
		warn, error bool
	}{{22, false, false}, {23, true, false}, {29, true, false}, {30, false, true}, {45, false, true}} {
		f.now = t0.Add(time.Duration(step.day) * 24 * time.Hour)
		vs := f.check(p)
		if got := len(has(vs, policies.RuleExpiring, "prod", "API_TOKEN")) > 0; got != step.warn {
			t.Errorf("day %d: expiring warning %v, want %v (%s)", step.day, got, step.warn, rules(vs))
		}
		if got := len(has(vs, policies.RuleMaxAge, "prod", "API_TOKEN")) > 0; got != step.error {
			t.Errorf("day %d: max-age error %v, want %v", step.day, got, step.error)
		}
	}
	for _, v := range has(f.check(p), policies.RuleExpiring, "", "") {
		if v.Severity != policies.SeverityWarning {
			t.Error("expiring is not a warning")
		}
	}
	// rotate --due at day 45 renews both, keeping grace values for 48h
	f.now = t0.Add(45 * 24 * time.Hour)
	before, _ := os.ReadFile(filepath.Join(f.dir, "secrets", "prod.env"))
	due, err := fleet.RotateDue(p, []age.Identity{f.alice}, fleet.RotateOptions{Now: f.clock, DryRun: true})
	if err != nil || len(due) != 2 {
		t.Fatalf("dry run: %v %v", due, err)
	}
	after, _ := os.ReadFile(filepath.Join(f.dir, "secrets", "prod.env"))
	if !bytes.Equal(before, after) {
		t.Fatal("dry run changed a bundle")
	}
	if _, err := fleet.RotateDue(p, []age.Identity{f.alice}, fleet.RotateOptions{Now: f.clock}); err != nil {
		t.Fatal(err)
	}
	if vs := f.check(p); len(vs) != 0 {
		t.Fatalf("after rotate --due: %s", rules(vs))
	}
	// the grace values expire after 48h
	f.now = f.now.Add(49 * time.Hour)
	vs := f.check(p)
	if len(has(vs, policies.RuleGraceExpired, "prod", "API_TOKEN_PREVIOUS")) != 1 {
		t.Fatalf("grace expiry: %s", rules(vs))
	}
}

func TestCheckKeysAndValues(t *testing.T) {
	f := newFixture(t)
	p := f.policy([]*age.X25519Identity{f.alice}, `keys:
  API_TOKEN: {required: true, min_length: 32}
  DATABASE_URL: {required: true, pattern: '^postgres://'}
  SIGNING_KEY: {generator: {length: 32}}
  PIN: {min_length: 4}
`)
	shared := random(t)
	f.bundle("prod", map[string]string{
		"API_TOKEN": "changeme", "DATABASE_URL": "mysql://x", "SIGNING_KEY": "abcabcabcabcabcabcabc",
		"PIN": "aaaabbbbaaaabbbb", "SURPRISE": "x", "SHARED": shared,
	}, f.alice)
	f.bundle("staging", map[string]string{"API_TOKEN": random(t), "SHARED_TOO": shared}, f.alice)
	// without a key: names and metadata only
	vs := f.check(p)
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
	vs = f.check(p, f.alice)
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
	f := newFixture(t)
	p := f.policy([]*age.X25519Identity{f.alice}, "")
	f.bundle("prod", map[string]string{"K": random(t)}, f.alice)
	os.WriteFile(filepath.Join(f.dir, "secrets", "staging.env"), []byte("K=plaintext\n"), 0o644)
	vs := f.check(p)
	if len(has(vs, policies.RuleNotSealed, "staging", "")) != 1 {
		t.Fatalf("unsealed: %s", rules(vs))
	}
	os.Remove(filepath.Join(f.dir, "secrets", "staging.env"))
	if vs := f.check(p); len(has(vs, policies.RuleBundleMissing, "staging", "")) != 1 {
		t.Fatalf("missing: %s", rules(vs))
	}
}
