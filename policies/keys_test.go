package policies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/internal/testutil/sopstest"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

func foreign() []keys.MasterKey {
	return []keys.MasterKey{
		sopstest.PGP("85D77543B3D624B63CEA9E6DBC17301B491B3F21"),
		sopstest.KMS("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:iam::111122223333:role/sops", map[string]string{"app": "api"}),
		sopstest.GCPKMS("projects/p/locations/global/keyRings/r/cryptoKeys/k"),
		sopstest.AzureKV("https://v.vault.azure.net", "sops", "0123abcd"),
		sopstest.Vault("https://vault.example.com:8200", "transit", "sops"),
		sopstest.HCKMS("cn-north-4:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
	}
}

const foreignRecipients = `      - {pgp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21, owner: bob}
      - kms: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
        role: arn:aws:iam::111122223333:role/sops
        context: {app: api}
        owner: deploy
      - {gcp_kms: projects/p/locations/global/keyRings/r/cryptoKeys/k}
      - {azure_kv: "https://v.vault.azure.net/keys/sops"}
      - {hc_vault: "https://vault.example.com:8200/v1/transit/keys/sops"}
      - {hckms: "cn-north-4:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}
`

// TestCheckEveryKeyType: the policy is the whole list of who may decrypt.
// Keys of every type sops writes (here with made-up wrapped data keys: no
// cloud is asked) are compared without an identity, planned, and removed
// by rekey --all.
func TestCheckEveryKeyType(t *testing.T) {
	f := policytest.New(t)
	ageOnly := "version: 1\nenvironments:\n" +
		"  - {name: prod, bundle: secrets/prod.env, recipients: [{key: " + f.Alice.Recipient().String() + ", owner: alice}]}\n" +
		"  - {name: staging, bundle: secrets/staging.env, recipients: [{key: " + f.Alice.Recipient().String() + ", owner: alice}]}\n"
	p := f.WritePolicy(ageOnly)
	f.Bundle("prod", map[string]string{"K": policytest.Random(), "L": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Alice)
	// Someone ran sops rotate --add-pgp, --add-kms, ... on prod.
	f.Rewrite("prod", func(d []byte) []byte { return sopstest.AddKeys(t, seal.FormatDotenv, d, foreign()...) })

	vs := check(f, p)
	removed := has(vs, policies.RuleRecipientRemoved, "prod", "")
	if len(removed) != 6 || len(vs) != 6 {
		t.Fatalf("keys the policy does not list: %s", rules(vs))
	}
	for i, typ := range []string{"pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"} {
		if !strings.Contains(removed[i].Message, typ+" ") {
			t.Errorf("violation %d does not name %s: %s", i, typ, removed[i].Message)
		}
	}
	plans, err := fleet.PlanRekeyAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans[0].Remove) != 6 || len(plans[0].Add) != 0 || strings.Join(plans[0].Exposed, ",") != "K,L" || len(plans[1].Remove) != 0 {
		t.Fatalf("plan: %+v", plans)
	}

	// The policy lists them all: prod is clean, staging lacks six keys.
	both := "version: 1\nenvironments:\n"
	for _, env := range []string{"prod", "staging"} {
		both += "  - name: " + env + "\n    bundle: secrets/" + env + ".env\n    recipients:\n      - {key: " + f.Alice.Recipient().String() + "}\n" + foreignRecipients
	}
	p2 := f.WritePolicy(both)
	vs = check(f, p2)
	if len(has(vs, policies.RuleRecipientMissing, "staging", "")) != 6 || len(vs) != 6 {
		t.Fatalf("with the keys in the policy: %s", rules(vs))
	}
	if m := has(vs, policies.RuleRecipientMissing, "staging", "")[0].Message; !strings.Contains(m, "bob") {
		t.Errorf("missing key without its owner: %s", m)
	}

	// Offboarding: rekey --all with the age-only policy drops every other
	// key (no cloud call: nothing is wrapped to them).
	if _, err := fleet.RekeyAll(p, []age.Identity{f.Alice}, f.Clock); err != nil {
		t.Fatal(err)
	}
	if vs := check(f, p, f.Alice); len(vs) != 0 {
		t.Fatalf("after rekey --all: %s", rules(vs))
	}
	data, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	info, _ := seal.Inspect(seal.FormatDotenv, data)
	if len(info.MasterKeys) != 1 || info.MasterKeys[0].Type != seal.KeyAge {
		t.Fatalf("after rekey --all the bundle has %v", info.MasterKeys)
	}

	// Key groups the policy does not have.
	ak, _ := sopsage.MasterKeyFromRecipient(f.Alice.Recipient().String())
	f.Rewrite("prod", func(d []byte) []byte {
		return sopstest.Rewrite(t, seal.FormatDotenv, d, func(md *sops.Metadata) {
			md.KeyGroups = []sops.KeyGroup{{ak}, {foreign()[0]}}
			md.ShamirThreshold = 1
		})
	})
	vs = check(f, p)
	if len(has(vs, policies.RuleKeyGroups, "prod", "")) != 1 || len(has(vs, policies.RuleRecipientRemoved, "prod", "")) != 1 {
		t.Fatalf("key groups: %s %+v", rules(vs), vs)
	}
}

// TestCheckPlaintextValue: a line typed into a sealed bundle by hand is an
// error without any key.
func TestCheckPlaintextValue(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Rewrite("prod", func(d []byte) []byte { return append(d, []byte("API_TOKEN=ghp_"+policytest.Random()+"\n")...) })
	vs := check(f, p)
	got := has(vs, policies.RulePlaintextValue, "prod", "API_TOKEN")
	if len(got) != 1 || got[0].Severity != policies.SeverityError {
		t.Fatalf("plaintext value: %s", rules(vs))
	}
}

// TestCheckSetInFuture: a set time in the future (a wrong clock, an edited
// line) would silence max_age; it is an error with its reason.
func TestCheckSetInFuture(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "defaults: {max_age: 30d}\n")
	f.Now = policytest.T0.Add(400 * 24 * time.Hour)
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Now = policytest.T0
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Alice)
	vs := check(f, p, f.Alice)
	got := has(vs, policies.RuleSetInFuture, "prod", "K")
	if len(got) != 1 || got[0].Severity != policies.SeverityError || !strings.Contains(got[0].Message, "400d in the future") {
		t.Fatalf("set in the future: %s", rules(vs))
	}
	if len(vs) != 1 {
		t.Fatalf("other violations: %s", rules(vs))
	}
}

// TestCheckBundleOutsideRepository: a bundle path that a symlink takes out
// of the policy's directory is an error, never read as if it were inside.
func TestCheckBundleOutsideRepository(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	outside := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	os.WriteFile(filepath.Join(outside, "staging.env"), data, 0o644)
	os.Symlink(filepath.Join(outside, "staging.env"), filepath.Join(f.Dir, "secrets", "staging.env"))
	vs := check(f, p)
	got := has(vs, policies.RuleBundleOutside, "staging", "")
	if len(got) != 1 || !strings.Contains(got[0].Message, "outside the repository") {
		t.Fatalf("bundle outside: %s", rules(vs))
	}
}
