package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	prints "github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// TestDueRule: check and rotate --due judge a set time by one rule
// (docs/policy.md, "When a value is due"): two minutes ahead is a value set
// now for both; ten minutes ahead is an error for check and due for rotate
// --due; past max_age, both.
func TestDueRule(t *testing.T) {
	c := newParallelCLI(t)
	id, _ := age.GenerateX25519Identity()
	os.WriteFile(c.path("key.txt"), []byte(id.String()+"\n"), 0o600)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for key, set := range map[string]time.Time{"SKEWED": now.Add(2 * time.Minute), "AHEAD": now.Add(10 * time.Minute), "OLD": now.Add(-40 * 24 * time.Hour), "FRESH": now} {
		b.Now = func() time.Time { return set }
		if err := b.Set(key, []byte(secret(t, strings.ToLower(key)))); err != nil {
			t.Fatal(err)
		}
	}
	salt, err := prints.NewSalt() // as every sealenv write records them
	if err != nil {
		t.Fatal(err)
	}
	b.Fingerprint(author.Fingerprinter{Salt: salt.String(), Make: prints.Maker(salt)})
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.path("b.env"), data, 0o644)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+id.Recipient().String()+"}]}\n"+
		"defaults: {max_age: 30d, generator: {alphabet: hex}}\n"), 0o644)

	check := c.run("", "check")
	flagged := map[string]bool{}
	for _, l := range strings.Split(check.stdout, "\n") {
		for _, k := range []string{"SKEWED", "AHEAD", "OLD", "FRESH"} {
			if strings.Contains(l, "[prod]") && strings.Contains(l, ": "+k+" ") {
				flagged[k] = true
			}
		}
	}
	if check.code != 1 || !strings.Contains(check.stdout, "set-in-future") || !strings.Contains(check.stdout, "max-age") {
		t.Fatalf("check: exit %d\n%s", check.code, check.stdout)
	}
	due := c.ok("", "rotate", "--due", "--dry-run").stdout
	for _, k := range []string{"SKEWED", "AHEAD", "OLD", "FRESH"} {
		listed := strings.Contains(due, "due "+k+" in prod")
		if listed != flagged[k] {
			t.Errorf("%s: rotate --due lists it: %v, check reports it: %v\ncheck:\n%s\nrotate --due:\n%s", k, listed, flagged[k], check.stdout, due)
		}
		if want := k == "AHEAD" || k == "OLD"; listed != want {
			t.Errorf("%s: due %v, want %v", k, listed, want)
		}
	}
}
