package match

import (
	"html"
	"math/rand/v2"
	"net/url"
	"testing"
)

// The two escapes written out here to keep net/url and html out of the
// injector give what the standard library gives, on every byte and on
// random strings of any bytes.
func TestEscapesAsTheStandardLibrary(t *testing.T) {
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	inputs := []string{string(all), "a b+c/d~é%€😀\u2028", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		if got, want := string(pathEscape.encode([]byte(s))), url.PathEscape(s); got != want {
			t.Fatalf("pathEscape(%q) = %q, url.PathEscape %q", s, got, want)
		}
		if got, want := htmlEscape(s), html.EscapeString(s); got != want {
			t.Fatalf("htmlEscape(%q) = %q, html.EscapeString %q", s, got, want)
		}
	}
}

// Forms lists each form once, none shorter than eight bytes, the raw value
// first.
func TestForms(t *testing.T) {
	v := []byte(randString(t, alnum, 20) + `<&>"' é€😀`)
	fs := Forms(v)
	if len(fs) < 20 || string(fs[0].Text) != string(v) || fs[0].Encoding != "raw" {
		t.Fatalf("%d forms, the first %s", len(fs), fs[0].Encoding)
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if len(f.Text) < 8 || seen[string(f.Text)] {
			t.Errorf("%s form: %d bytes, seen before %v", f.Encoding, len(f.Text), seen[string(f.Text)])
		}
		seen[string(f.Text)] = true
	}
}
