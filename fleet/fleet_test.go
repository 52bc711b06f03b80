package fleet_test

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
	for k, v := range values {
		if err := b.Set(k, []byte(v)); err != nil {
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

func random() string { return rand.Text() + rand.Text() }

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		g    *policies.Generator
		want int
	}{
		{nil, 43}, // 32 bytes, unpadded base64url
		{&policies.Generator{Alphabet: "hex"}, 64},
		{&policies.Generator{Alphabet: "alnum", Length: 40}, 40},
		{&policies.Generator{Length: 16}, 22},
	} {
		v, err := fleet.Generate(tc.g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != tc.want {
			t.Errorf("%+v: %d characters, want %d", tc.g, len(v), tc.want)
		}
	}
	for _, bad := range []*policies.Generator{{Alphabet: "emoji"}, {Length: 8}, {Length: 5000}} {
		if _, err := fleet.Generate(bad, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestRotateDueOnlyGenerates: a due key without a generator (a URL, a
// vendor token) is listed for a person, never replaced with random bytes.
func TestRotateDueOnlyGenerates(t *testing.T) {
	f := newFixture(t)
	p := f.policy([]*age.X25519Identity{f.alice}, "defaults: {max_age: 30d}\nkeys:\n  TOKEN: {generator: {alphabet: hex}}\n")
	url := "postgres://app@db:5432/app"
	f.bundle("prod", map[string]string{"TOKEN": random(), "DATABASE_URL": url}, f.alice)
	f.bundle("staging", map[string]string{"TOKEN": random()}, f.alice)
	f.now = t0.Add(40 * 24 * time.Hour)
	done, err := fleet.RotateDue(p, []age.Identity{f.alice}, fleet.RotateOptions{Env: "prod", Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	manual := map[string]bool{}
	for _, d := range done {
		manual[d.Key] = d.Manual
	}
	if len(done) != 2 || manual["TOKEN"] || !manual["DATABASE_URL"] {
		t.Fatalf("due: %+v", done)
	}
	data, _ := os.ReadFile(filepath.Join(f.dir, "secrets", "prod.env"))
	b, err := seal.Open(seal.FormatDotenv, data, f.alice)
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Lookup("DATABASE_URL")) != url || len(b.Lookup("TOKEN")) != 64 {
		t.Fatal("rotate --due replaced a value without a generator, or not the one with")
	}
	if _, err := fleet.RotateDue(p, []age.Identity{f.alice}, fleet.RotateOptions{Env: "prdo", Now: f.clock, DryRun: true}); err == nil {
		t.Fatal("a misspelled environment passed")
	}
}

// TestRekeyAllRollsBack: the second environment cannot be opened with the
// identity, so RekeyAll must change nothing at all.
func TestRekeyAllRollsBack(t *testing.T) {
	f := newFixture(t)
	p := f.policy([]*age.X25519Identity{f.alice, f.bob}, "")
	f.bundle("prod", map[string]string{"K": random()}, f.alice)
	f.bundle("staging", map[string]string{"K": random()}, f.bob) // alice cannot read this one
	read := func() [2][]byte {
		a, _ := os.ReadFile(filepath.Join(f.dir, "secrets", "prod.env"))
		b, _ := os.ReadFile(filepath.Join(f.dir, "secrets", "staging.env"))
		return [2][]byte{a, b}
	}
	before := read()
	_, err := fleet.RekeyAll(p, []age.Identity{f.alice}, f.clock)
	if err == nil || !strings.Contains(err.Error(), "staging.env") || !strings.Contains(err.Error(), "no bundle was changed") {
		t.Fatalf("err = %v", err)
	}
	after := read()
	if !bytes.Equal(before[0], after[0]) || !bytes.Equal(before[1], after[1]) {
		t.Fatal("a bundle changed although RekeyAll failed")
	}
	entries, _ := os.ReadDir(filepath.Join(f.dir, "secrets"))
	if len(entries) != 2 {
		t.Fatalf("leftover files: %d entries", len(entries))
	}
}
