package bundlefile_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/internal/match"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/seal"
)

// strongValue is a random 40-character value of mixed case (about 238
// bits), made at test time: strong enough to have a fingerprint.
func strongValue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func inspect(t *testing.T, path string) *seal.Info {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := seal.Inspect(seal.FormatDotenv, data)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestEveryWriteFingerprints: a write records a fingerprint of each strong
// value, made for its stored form, and marks a weak one; the fingerprint
// finds the value; the file holds no form of it; an unchanged value keeps
// its fingerprint through the next write; a value another tool (sops set)
// changed has a stale one until the next sealenv write.
func TestEveryWriteFingerprints(t *testing.T) {
	t.Parallel()
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	kept := strongValue(t)
	f.Bundle("prod", map[string]string{"KEPT": kept}, f.Alice)
	strong, weak := strongValue(t), "pin-"+policytest.Random()[:6]
	o := options(f, nil)
	err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) {
		if err := d.Set("STRONG", []byte(strong)); err != nil {
			return false, err
		}
		return true, d.Set("WEAK", []byte(weak))
	})
	if err != nil {
		t.Fatal(err)
	}
	info := inspect(t, f.Path("prod"))
	p := info.Prints
	if p.Salt == "" {
		t.Fatal("no salt recorded")
	}
	for _, n := range []string{"KEPT", "STRONG"} {
		if pr := p.ByName[n]; pr.Text == "" || pr.Weak || pr.For != info.Current.Sums[n] {
			t.Errorf("%s: print %+v, stored form %q", n, pr, info.Current.Sums[n])
		}
	}
	if pr := p.ByName["WEAK"]; !pr.Weak || pr.Text != "" || pr.For != info.Current.Sums["WEAK"] {
		t.Errorf("WEAK: print %+v", pr)
	}
	salt, err := fingerprint.ParseSalt(p.Salt)
	if err != nil {
		t.Fatal(err)
	}
	set, err := fingerprint.NewSet([]fingerprint.Bundle{{Path: "prod", Salt: salt, Prints: map[string]string{"STRONG": p.ByName["STRONG"].Text}}})
	if err != nil {
		t.Fatal(err)
	}
	if hits := set.Search([]byte("x=" + strong + "\n")); len(hits) != 1 || hits[0].Name != "STRONG" {
		t.Errorf("the recorded fingerprint finds %v", hits)
	}
	file, _ := os.ReadFile(f.Path("prod"))
	for _, v := range []string{kept, strong, weak} {
		for _, form := range match.Forms([]byte(v)) {
			if bytes.Contains(file, form.Text) {
				t.Fatalf("the bundle holds a %s form of a value", form.Encoding)
			}
		}
	}

	// Another write keeps the salt and the unchanged fingerprints.
	if err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) {
		return true, d.Set("OTHER", []byte(strongValue(t)))
	}); err != nil {
		t.Fatal(err)
	}
	again := inspect(t, f.Path("prod")).Prints
	if again.Salt != p.Salt || again.ByName["STRONG"] != p.ByName["STRONG"] || again.ByName["OTHER"].Text == "" {
		t.Fatal("a second write changed the salt or an unchanged fingerprint, or made none")
	}

	// sops set: the value's stored form changes, its fingerprint does not.
	sopsSet(t, f, "prod", "STRONG", strongValue(t))
	info = inspect(t, f.Path("prod"))
	if info.Prints.ByName["STRONG"].For == info.Current.Sums["STRONG"] {
		t.Fatal("after sops set the fingerprint still claims the new stored form")
	}
	if err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) { return true, nil }); err != nil {
		t.Fatal(err)
	}
	info = inspect(t, f.Path("prod"))
	if pr := info.Prints.ByName["STRONG"]; pr.For != info.Current.Sums["STRONG"] || pr.Text == p.ByName["STRONG"].Text {
		t.Fatal("the next sealenv write did not renew the stale fingerprint")
	}
}

// TestTwoBundlesShareNoFingerprint: the same value sealed in two bundles
// has unrelated fingerprints (each bundle its own salt).
func TestTwoBundlesShareNoFingerprint(t *testing.T) {
	t.Parallel()
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	v := strongValue(t)
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Alice)
	var prints []string
	for _, env := range []string{"prod", "staging"} {
		if err := bundlefile.Edit(f.Path(env), options(f, nil), func(d *bundlefile.Draft) (bool, error) { return true, d.Set("SAME", []byte(v)) }); err != nil {
			t.Fatal(err)
		}
		prints = append(prints, inspect(t, f.Path(env)).Prints.ByName["SAME"].Text)
	}
	if prints[0] == "" || prints[0] == prints[1] {
		t.Fatal("missing or equal fingerprints")
	}
	// No 8-byte piece of one fingerprint's digests is in the other.
	for i := 8; i+8 < len(prints[0]); i += 4 {
		if strings.Contains(prints[1], prints[0][i:i+8]) {
			t.Fatalf("the fingerprints share %q", prints[0][i:i+8])
		}
	}
}

// sopsSet sets key to value in env's bundle with the real sops CLI; the
// identity and the value go through the environment and stdin.
func sopsSet(t *testing.T, f *policytest.Fixture, env, key, value string) {
	t.Helper()
	bin, err := exec.LookPath("sops")
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil {
			if _, serr := os.Stat(home + "/go/bin/sops"); serr == nil {
				bin = home + "/go/bin/sops"
			}
		}
		if bin == "" {
			t.Skip("sops CLI not found on PATH")
		}
	}
	cmd := exec.Command(bin, "set", "--value-stdin", f.Path(env), `["`+key+`"]`)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOPS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SOPS_AGE_KEY="+f.Alice.String(), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(`"` + value + `"`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops set: %v: %.300s", err, out)
	}
}
