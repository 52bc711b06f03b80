package fleet_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal/signature"
	"github.com/sealenv/sealenv/seal/signing"
)

// TestFleetWritesSign: rekey --all and rotate --due sign every bundle they
// write in the same journaled change, so check and the injector accept
// them; without a key, a signature that would no longer match is removed
// with the write and reported.
func TestFleetWritesSign(t *testing.T) {
	f := policytest.New(t)
	k := signtest.NewKey(t, t.TempDir(), "ci", "ed25519")
	key, err := signing.Find(signing.Lookup{Explicit: k.Path, NoGit: true, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	p := f.Policy([]*age.X25519Identity{f.Alice}, "keys:\n  TOKEN: {max_age: 30d, generator: {alphabet: hex}}\n")
	f.Bundle("prod", map[string]string{"TOKEN": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"TOKEN": policytest.Random()}, f.Alice)
	allowed, _ := signature.ParseAllowedSigners([]byte(k.Line("ci@example.com", "")))
	verified := func(env string) error {
		data, _ := os.ReadFile(f.Path(env))
		sig, err := os.ReadFile(signature.Path(f.Path(env)))
		if err != nil {
			return err
		}
		_, err = signature.Verify(data, sig, allowed, f.Now)
		return err
	}

	if _, err := fleet.RekeyAll(p, []age.Identity{f.Alice}, f.Clock, fleet.Signing{Sign: key.Sign}); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"prod", "staging"} {
		if err := verified(env); err != nil {
			t.Errorf("rekey --all: %s: %v", env, err)
		}
	}

	f.Now = policytest.T0.Add(40 * 24 * time.Hour)
	if _, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Env: "prod", Now: f.Clock, Signing: fleet.Signing{Sign: key.Sign}}); err != nil {
		t.Fatal(err)
	}
	if err := verified("prod"); err != nil {
		t.Errorf("rotate --due: %v", err)
	}

	// Unsigned: the stale signatures go with the write, and are reported.
	var removed []string
	f.Now = f.Now.Add(40 * 24 * time.Hour)
	if _, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Now: f.Clock, Signing: fleet.Signing{Removed: func(b string) { removed = append(removed, b) }}}); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"prod", "staging"} {
		if err := verified(env); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("unsigned write: %s.sig: %v, want removed", env, err)
		}
	}
	if len(removed) != 2 || removed[0] != "secrets/prod.env" {
		t.Errorf("removed = %v", removed)
	}
}

// TestGeneratorNeverSeesTheSigningKey: a generator command from the policy
// (code anyone who can change sealenv.yaml chooses) runs without the
// signing key, so it cannot sign a forged bundle.
func TestGeneratorNeverSeesTheSigningKey(t *testing.T) {
	t.Setenv(signing.EnvSignKey, "/keys/ci_signing_key")
	cmd := `printf 'key:%s' "${SEALENV_SIGN_KEY:-none}"`
	v, err := fleet.Generate(&policies.Generator{Command: cmd, SHA256: policies.PinOf(cmd, nil)}, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != "key:none" {
		t.Errorf("the generator saw %q", v)
	}
}
