package bundlefile_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/signature"
)

// fakeSigner signs with a marker, or fails.
type fakeSigner struct{ fail bool }

func (s fakeSigner) Sign(b []byte) ([]byte, error) {
	if s.fail {
		return nil, errors.New("the key refused to sign")
	}
	return append([]byte("sig:"), b[:8]...), nil
}

// options are write options for the fixture's repository, telling events
// to told.
func options(f *policytest.Fixture, told *[]bundlefile.Event) bundlefile.Options {
	return bundlefile.Options{
		Policy:     filepath.Join(f.Dir, policies.FileName),
		Identities: func() ([]age.Identity, error) { return []age.Identity{f.Alice}, nil },
		Now:        f.Clock,
		Tell:       func(ev bundlefile.Event) { *told = append(*told, ev) },
	}
}

func value(t *testing.T, f *policytest.Fixture, env, key string) string {
	t.Helper()
	data, err := os.ReadFile(f.Path(env))
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.Open(seal.FormatDotenv, data, f.Alice)
	if err != nil {
		t.Fatal(err)
	}
	return string(b.Lookup(key))
}

// TestEditWritesSignsAndTells: a change is written with its signature, and
// said; a change that says "no" leaves the file as it was; a key that
// cannot sign stops the write before anything changes.
func TestEditWritesSignsAndTells(t *testing.T) {
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	var told []bundlefile.Event
	o := options(f, &told)
	o.Key = func(string) (bundlefile.Signer, error) { return fakeSigner{}, nil }
	v := policytest.Random()
	err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) { return true, d.Set("NEW", []byte(v)) })
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, f, "prod", "NEW"); got != v {
		t.Fatal("the change was not written")
	}
	if sig, err := os.ReadFile(signature.Path(f.Path("prod"))); err != nil || !bytes.HasPrefix(sig, []byte("sig:")) {
		t.Fatalf("signature: %q, %v", sig, err)
	}
	if len(told) != 1 {
		t.Fatalf("told %v, want one Signed", told)
	}
	if s, ok := told[0].(bundlefile.Signed); !ok || s.Bundle != f.Path("prod") {
		t.Fatalf("told %#v", told[0])
	}

	before, _ := os.ReadFile(f.Path("prod"))
	if err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) { return false, d.Set("NEW", []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	o.Key = func(string) (bundlefile.Signer, error) { return fakeSigner{fail: true}, nil }
	err = bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) { return true, d.Set("NEW", []byte("y")) })
	if err == nil || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("a key that cannot sign: %v", err)
	}
	if after, _ := os.ReadFile(f.Path("prod")); !bytes.Equal(before, after) {
		t.Fatal("a change that said no, or could not be signed, was written")
	}

	// Unsigned: the signature that would no longer match goes, and is said.
	told = nil
	o.Key = nil
	if err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) { return true, d.Unset("NEW") }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(signature.Path(f.Path("prod"))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale signature: %v", err)
	}
	if len(told) != 1 || told[0] != (bundlefile.Unsigned{Bundle: f.Path("prod")}) {
		t.Fatalf("told %#v", told)
	}
}

// TestEditRefusesASymlinkOutOfTheRepository: a bundle that a symlink takes
// out of its repository is neither read nor written.
func TestEditRefusesASymlinkOutOfTheRepository(t *testing.T) {
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	outside := filepath.Join(t.TempDir(), "prod.env")
	os.Rename(f.Path("prod"), outside)
	if err := os.Symlink(outside, f.Path("prod")); err != nil {
		t.Skip(err)
	}
	var told []bundlefile.Event
	called := false
	err := bundlefile.Edit(f.Path("prod"), options(f, &told), func(*bundlefile.Draft) (bool, error) { called = true; return true, nil })
	if err == nil || !strings.Contains(err.Error(), "outside the repository") || called {
		t.Fatalf("Edit through a symlink out of the repository: %v (change called: %v)", err, called)
	}
}

// TestEveryWriteChecksNames: a name the injector refuses stops Edit and
// Create with a RefusedNameError naming the environment, unless its
// allow_names allows it or the write skips the check; Draft.Check says so
// before the write.
func TestEveryWriteChecksNames(t *testing.T) {
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	var told []bundlefile.Event
	o := options(f, &told)
	var checked error
	err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) {
		if err := d.Set("NODE_OPTIONS", []byte("--require ./x.js")); err != nil {
			return false, err
		}
		checked = d.Check()
		return true, nil
	})
	var rn *bundlefile.RefusedNameError
	if !errors.As(err, &rn) || rn.Env == nil || rn.Env.Name != "prod" || !errors.As(checked, &rn) {
		t.Fatalf("Edit: %v; Check: %v", err, checked)
	}
	o.SkipNameCheck = true
	if err := bundlefile.Edit(f.Path("prod"), o, func(d *bundlefile.Draft) (bool, error) { return true, d.Set("LD_PRELOAD", []byte("/x.so")) }); err != nil {
		t.Fatalf("a write that skips the check: %v", err)
	}

	b, err := author.New(seal.FormatDotenv, []string{f.Alice.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	b.Set("HTTPS_PROXY", []byte("http://proxy.example:3128"))
	path := filepath.Join(f.Dir, "new.env")
	if err := bundlefile.Create(path, options(f, &told), b); !errors.As(err, &rn) || rn.Env != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Create wrote a bundle with a refused name")
	}
}

// TestCreateNeverReplaces: without Replace, an existing file stays; with
// MakeDirs, the directories made for a bundle that could not be written
// are removed again.
func TestCreateNeverReplaces(t *testing.T) {
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	before, _ := os.ReadFile(f.Path("prod"))
	b, _ := author.New(seal.FormatDotenv, []string{f.Alice.Recipient().String()})
	var told []bundlefile.Event
	if err := bundlefile.Create(f.Path("prod"), options(f, &told), b); err == nil {
		t.Fatal("Create replaced an existing bundle")
	}
	if after, _ := os.ReadFile(f.Path("prod")); !bytes.Equal(before, after) {
		t.Fatal("the existing bundle changed")
	}
	o := options(f, &told)
	o.MakeDirs = true
	o.Key = func(string) (bundlefile.Signer, error) { return fakeSigner{fail: true}, nil }
	deep := filepath.Join(f.Dir, "a", "b", "c.env")
	if err := bundlefile.Create(deep, o, b); err == nil {
		t.Fatal("a key that cannot sign wrote a bundle")
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the directories made for it stayed: %v", err)
	}
}

// TestEditAllIsAllOrNothing: one change that fails leaves every bundle as
// it was; signatures that would no longer match go with the write, and are
// told once it is done.
func TestEditAllIsAllOrNothing(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Alice)
	envs := []*policies.Environment{&p.Environments[0], &p.Environments[1]}
	before, _ := os.ReadFile(f.Path("prod"))
	var told []bundlefile.Event
	o := options(f, &told)
	err := bundlefile.EditAll(p, envs, o, func(d *bundlefile.Draft) (bool, error) {
		if env, _, _ := d.Env(); env.Name == "staging" {
			return false, errors.New("staging refuses")
		}
		return true, d.Set("K", []byte(policytest.Random()))
	})
	if err == nil || !strings.Contains(err.Error(), "secrets/staging.env: staging refuses; no bundle was changed") {
		t.Fatalf("EditAll: %v", err)
	}
	if after, _ := os.ReadFile(f.Path("prod")); !bytes.Equal(before, after) {
		t.Fatal("a bundle changed although EditAll failed")
	}

	for _, env := range []string{"prod", "staging"} {
		os.WriteFile(signature.Path(f.Path(env)), []byte("old signature"), 0o644)
	}
	v := policytest.Random()
	if err := bundlefile.EditAll(p, envs, o, func(d *bundlefile.Draft) (bool, error) { return true, d.Set("K", []byte(v)) }); err != nil {
		t.Fatal(err)
	}
	if value(t, f, "prod", "K") != v || value(t, f, "staging", "K") != v {
		t.Fatal("EditAll did not write every bundle")
	}
	want := []bundlefile.Event{bundlefile.Unsigned{Bundle: "secrets/prod.env"}, bundlefile.Unsigned{Bundle: "secrets/staging.env"}}
	if len(told) != 2 || told[0] != want[0] || told[1] != want[1] {
		t.Fatalf("told %#v", told)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, bundlefile.JournalName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal left behind: %v", err)
	}
}

// TestSignNeedsAKey: Sign without a key is ErrNoSigningKey;
// a plaintext file is not signed.
func TestSignNeedsAKey(t *testing.T) {
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	var told []bundlefile.Event
	o := options(f, &told)
	if err := bundlefile.Sign(f.Path("prod"), o); !errors.Is(err, bundlefile.ErrNoSigningKey) {
		t.Fatalf("Sign without a key: %v", err)
	}
	o.Key = func(string) (bundlefile.Signer, error) { return fakeSigner{}, nil }
	plain := filepath.Join(f.Dir, "plain.env")
	os.WriteFile(plain, []byte("A=1\n"), 0o644)
	if err := bundlefile.Sign(plain, o); err == nil || !strings.Contains(err.Error(), "only a sealed bundle is signed") {
		t.Fatalf("Sign of a plaintext file: %v", err)
	}
	if err := bundlefile.Sign(f.Path("prod"), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(signature.Path(f.Path("prod"))); err != nil {
		t.Fatal(err)
	}
}

// TestRecipientsOrder: an environment's keys, else the keys given, else
// $SOPS_AGE_RECIPIENTS, else nothing.
func TestRecipientsOrder(t *testing.T) {
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	policy := filepath.Join(f.Dir, policies.FileName)
	noEnv := func(string) (string, bool) { return "", false }
	k, err := bundlefile.Recipients(bundlefile.New{Env: "prod", Getenv: noEnv}, policy)
	if err != nil || k.Path != f.Path("prod") || len(k.Groups) != 1 || k.Groups[0][0].ID != f.Alice.Recipient().String() {
		t.Fatalf("--env: %+v, %v", k, err)
	}
	bob := seal.MasterKey{Type: seal.KeyAge, ID: f.Bob.Recipient().String()}
	withBob := func(name string) (string, bool) { return bob.ID, name == "SOPS_AGE_RECIPIENTS" }
	path := filepath.Join(f.Dir, "x.env")
	alice := seal.MasterKey{Type: seal.KeyAge, ID: f.Alice.Recipient().String()}
	if k, err := bundlefile.Recipients(bundlefile.New{Path: path, Keys: []seal.MasterKey{alice}, Getenv: withBob}, policy); err != nil || k.Groups[0][0].ID != alice.ID || k.From != "" {
		t.Fatalf("keys given: %+v, %v", k, err)
	}
	if k, err := bundlefile.Recipients(bundlefile.New{Path: path, Getenv: withBob}, policy); err != nil || k.Groups[0][0].ID != bob.ID || k.From != "$SOPS_AGE_RECIPIENTS" {
		t.Fatalf("$SOPS_AGE_RECIPIENTS: %+v, %v", k, err)
	}
	if _, err := bundlefile.Recipients(bundlefile.New{Path: path, Getenv: noEnv}, policy); !errors.Is(err, bundlefile.ErrNoRecipients) {
		t.Fatalf("no keys: %v", err)
	}
}
