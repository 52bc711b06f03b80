package fleet_test

import (
	"bytes"
	"errors"
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
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "defaults: {max_age: 30d}\nkeys:\n  TOKEN: {generator: {alphabet: hex}}\n")
	url := "postgres://app@db:5432/app"
	f.Bundle("prod", map[string]string{"TOKEN": policytest.Random(), "DATABASE_URL": url}, f.Alice)
	f.Bundle("staging", map[string]string{"TOKEN": policytest.Random()}, f.Alice)
	f.Now = policytest.T0.Add(40 * 24 * time.Hour)
	done, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Env: "prod", Now: f.Clock})
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
	data, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	b, err := seal.Open(seal.FormatDotenv, data, f.Alice)
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Lookup("DATABASE_URL")) != url || len(b.Lookup("TOKEN")) != 64 {
		t.Fatal("rotate --due replaced a value without a generator, or not the one with")
	}
	if _, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Env: "prdo", Now: f.Clock, DryRun: true}); err == nil {
		t.Fatal("a misspelled environment passed")
	}
}

// TestRotateDueRefusesWhatThePatternRefuses: a generator whose values the
// key's own pattern refuses (hex for an upper-case pattern) fails rotate
// --due before anything is written, naming the rule and no value.
func TestRotateDueRefusesWhatThePatternRefuses(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice}, "defaults: {max_age: 30d}\nkeys:\n  TOKEN: {pattern: '^[A-Z]{32}$', generator: {alphabet: hex, length: 16}}\n")
	f.Bundle("prod", map[string]string{"TOKEN": "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF"}, f.Alice)
	f.Bundle("staging", map[string]string{"TOKEN": "ZYXWVUTSRQPONMLKJIHGFEDCBAZYXWVU"}, f.Alice)
	before, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
	f.Now = policytest.T0.Add(40 * 24 * time.Hour)
	_, err := fleet.RotateDue(p, []age.Identity{f.Alice}, fleet.RotateOptions{Now: f.Clock})
	if !errors.Is(err, fleet.ErrValueRefused) || !strings.Contains(err.Error(), "TOKEN does not match its pattern ^[A-Z]{32}$") {
		t.Fatalf("RotateDue = %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env")); !bytes.Equal(before, after) {
		t.Fatal("a refused value was written")
	}
}

// TestRekeyAllRollsBack: the second environment cannot be opened with the
// identity, so RekeyAll must change nothing at all.
func TestRekeyAllRollsBack(t *testing.T) {
	f := policytest.New(t)
	p := f.Policy([]*age.X25519Identity{f.Alice, f.Bob}, "")
	f.Bundle("prod", map[string]string{"K": policytest.Random()}, f.Alice)
	f.Bundle("staging", map[string]string{"K": policytest.Random()}, f.Bob) // alice cannot read this one
	read := func() [2][]byte {
		a, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "prod.env"))
		b, _ := os.ReadFile(filepath.Join(f.Dir, "secrets", "staging.env"))
		return [2][]byte{a, b}
	}
	before := read()
	_, err := fleet.RekeyAll(p, []age.Identity{f.Alice}, f.Clock)
	if err == nil || !strings.Contains(err.Error(), "staging.env") || !strings.Contains(err.Error(), "no bundle was changed") {
		t.Fatalf("err = %v", err)
	}
	after := read()
	if !bytes.Equal(before[0], after[0]) || !bytes.Equal(before[1], after[1]) {
		t.Fatal("a bundle changed although RekeyAll failed")
	}
	entries, _ := os.ReadDir(filepath.Join(f.Dir, "secrets"))
	if len(entries) != 2 {
		t.Fatalf("leftover files: %d entries", len(entries))
	}
}
