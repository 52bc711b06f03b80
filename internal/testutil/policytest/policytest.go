// Package policytest builds small repositories for the tests of the policy
// and the fleet operations: a sealenv.yaml and bundles sealed to generated
// age identities in a test's temporary directory, with a clock the test
// sets. Only tests import it.
package policytest

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// T0 is the time a [Fixture]'s clock starts at.
var T0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// Fixture is a repository in a temporary directory with two people.
type Fixture struct {
	T          *testing.T
	Dir        string
	Alice, Bob *age.X25519Identity
	Now        time.Time
}

// New returns a fixture with fresh identities, its clock at [T0].
func New(t *testing.T) *Fixture {
	f := &Fixture{T: t, Dir: t.TempDir(), Now: T0}
	var err error
	if f.Alice, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	if f.Bob, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	return f
}

// Clock returns the fixture's time.
func (f *Fixture) Clock() time.Time { return f.Now }

// Policy writes sealenv.yaml with prod and staging, each for the given
// recipients (owners person0, person1, ...), plus extra YAML, and loads it.
func (f *Fixture) Policy(recipients []*age.X25519Identity, extra string) *policies.Policy {
	f.T.Helper()
	var rs strings.Builder
	for i, r := range recipients {
		fmt.Fprintf(&rs, "      - {key: %s, owner: person%d}\n", r.Recipient(), i)
	}
	text := "version: 1\nenvironments:\n"
	for _, env := range []string{"prod", "staging"} {
		text += "  - name: " + env + "\n    bundle: secrets/" + env + ".env\n    recipients:\n" + rs.String()
	}
	return f.WritePolicy(text + extra)
}

// WritePolicy writes sealenv.yaml and loads it.
func (f *Fixture) WritePolicy(text string) *policies.Policy {
	f.T.Helper()
	path := filepath.Join(f.Dir, policies.FileName)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		f.T.Fatal(err)
	}
	p, err := policies.Load(path)
	if err != nil {
		f.T.Fatal(err)
	}
	return p
}

// Bundle writes secrets/ENV.env with values, sealed to recipients, set at
// the fixture's time.
func (f *Fixture) Bundle(env string, values map[string]string, recipients ...*age.X25519Identity) {
	f.T.Helper()
	var rs []string
	for _, r := range recipients {
		rs = append(rs, r.Recipient().String())
	}
	b, err := author.New(seal.FormatDotenv, rs)
	if err != nil {
		f.T.Fatal(err)
	}
	b.Now = f.Clock
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := b.Set(k, []byte(values[k])); err != nil {
			f.T.Fatal(err)
		}
	}
	// Fingerprinted as every sealenv write does (bundlefile).
	salt, err := fingerprint.NewSalt()
	if err != nil {
		f.T.Fatal(err)
	}
	b.Fingerprint(author.Fingerprinter{Salt: salt.String(), Make: fingerprint.Maker(salt)})
	out, err := b.Marshal()
	if err != nil {
		f.T.Fatal(err)
	}
	os.MkdirAll(filepath.Join(f.Dir, "secrets"), 0o755)
	if err := os.WriteFile(f.Path(env), out, 0o644); err != nil {
		f.T.Fatal(err)
	}
}

// Path is the path of secrets/ENV.env.
func (f *Fixture) Path(env string) string { return filepath.Join(f.Dir, "secrets", env+".env") }

// Rewrite replaces the content of secrets/ENV.env with change(content).
func (f *Fixture) Rewrite(env string, change func([]byte) []byte) {
	f.T.Helper()
	data, err := os.ReadFile(f.Path(env))
	if err != nil {
		f.T.Fatal(err)
	}
	if err := os.WriteFile(f.Path(env), change(data), 0o644); err != nil {
		f.T.Fatal(err)
	}
}

// Random returns a random value (52 characters) generated now.
func Random() string { return rand.Text() + rand.Text() }
