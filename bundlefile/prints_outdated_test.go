package bundlefile_test

import (
	"maps"
	"os"
	"slices"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/internal/testutil/policytest"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// outdated runs a write that saves only when fingerprints are missing or
// stale (what sealenv adopt does for them), and returns their names.
func outdated(t *testing.T, f *policytest.Fixture) []string {
	t.Helper()
	var names []string
	var told []bundlefile.Event
	err := bundlefile.Edit(f.Path("prod"), options(f, &told), func(d *bundlefile.Draft) (bool, error) {
		var err error
		names, err = d.OutdatedPrints()
		return len(names) > 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// states is the state of every value's fingerprint in the bundle file.
func states(t *testing.T, f *policytest.Fixture) map[string]fingerprint.State {
	t.Helper()
	_, _, values := fingerprint.Coverage(inspect(t, f.Path("prod")))
	out := map[string]fingerprint.State{}
	for _, v := range values {
		out[v.Name] = v.State
	}
	return out
}

// TestOutdatedPrints: a bundle sealenv recorded without fingerprints (an
// older version) has every fingerprint missing, and one the real sops
// changed has a stale one; a write that changes nothing else records them
// (a weak value: as weak, with no fingerprint), and then nothing is
// outdated.
func TestOutdatedPrints(t *testing.T) {
	t.Parallel()
	f := policytest.New(t)
	f.Policy([]*age.X25519Identity{f.Alice}, "")
	b, err := author.New(seal.FormatDotenv, []string{f.Alice.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	b.Now = f.Clock
	for k, v := range map[string]string{"A": strongValue(t), "B": strongValue(t), "PIN": "1234"} {
		if err := b.Set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Marshal() // no fingerprinter: no fingerprints
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(f.Dir+"/secrets", 0o755)
	if err := os.WriteFile(f.Path("prod"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := states(t, f); got["A"] != fingerprint.Missing || got["B"] != fingerprint.Missing {
		t.Fatalf("states before: %v", got)
	}
	if got := outdated(t, f); !slices.Equal(sorted(got), []string{"A", "B", "PIN"}) {
		t.Fatalf("outdated: %v", got)
	}
	want := map[string]fingerprint.State{"A": fingerprint.Current, "B": fingerprint.Current, "PIN": fingerprint.TooWeak}
	if got := states(t, f); !maps.Equal(got, want) {
		t.Fatalf("after the write: %v", got)
	}
	if got := outdated(t, f); len(got) != 0 {
		t.Fatalf("outdated after the write: %v", got)
	}

	sopsSet(t, f, "prod", "B", strongValue(t))
	if got := states(t, f); got["B"] != fingerprint.Stale || got["A"] != fingerprint.Current {
		t.Fatalf("after sops set: %v", got)
	}
	if got := outdated(t, f); !slices.Equal(got, []string{"B"}) {
		t.Fatalf("outdated after sops set: %v", got)
	}
	if got := states(t, f); !maps.Equal(got, want) {
		t.Fatalf("after the second write: %v", got)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
