package match

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randString returns n random characters of set, made at test time: no
// secret is ever committed.
func randString(t testing.TB, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = set[k.Int64()]
	}
	return string(b)
}

// regexRules confirms rules that are regular expressions, as the audit's
// rule set does.
type regexRules []*regexp.Regexp

func (r regexRules) Confirm(rule int, win []byte, at int, dst []Match) []Match {
	for _, m := range r[rule].FindAllIndex(win, -1) {
		dst = append(dst, Match{Start: m[0], End: m[1]})
	}
	return dst
}

// githubToken is a matcher with one value and the github-token rule of the
// default rule set (its keyword, its regular expression, one byte before).
func githubToken(values ...Value) *Matcher {
	re := regexRules{regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,251})\b`)}
	var kws []Keyword
	for _, k := range []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"} {
		kws = append(kws, Keyword{Text: k, Rule: 0, Before: 1, After: 256})
	}
	return New(values, kws, re)
}

// sink collects a stream's hits and checks that Searched only grows.
type sink struct {
	t    *testing.T
	hits []Hit
	mark int64
}

func (s *sink) Hit(h Hit) { s.hits = append(s.hits, h) }

func (s *sink) Searched(n int64) {
	if n < s.mark {
		s.t.Errorf("Searched(%d) after Searched(%d)", n, s.mark)
	}
	s.mark = n
}

// Matches that straddle the scanner's chunk boundary are found once.
func TestChunkBoundaries(t *testing.T) {
	v := []byte(randString(t, alnum, 24))
	tok := "ghp_" + randString(t, alnum, 36)
	d := githubToken(Value{Name: "V", Value: v})
	for _, at := range []int{chunkSize - 30, chunkSize - 10, chunkSize - d.fwd - 5, chunkSize - d.fwd + 3, 2*chunkSize - d.fwd - d.back, 3 * chunkSize} {
		data := bytes.Repeat([]byte("lorem ipsum "), (3*chunkSize+1000)/12)
		copy(data[at:], v)
		copy(data[at+99:], " "+tok+" ")
		sc := d.Scanner()
		out := &sink{t: t}
		sc.Start(out)
		for p := data; len(p) > 0; p = p[min(len(p), 7919):] {
			sc.Write(p[:min(len(p), 7919)])
		}
		sc.Close()
		if out.mark != int64(len(data)) {
			t.Errorf("at %d: searched to %d of %d bytes", at, out.mark, len(data))
		}
		var known, rule int
		for _, h := range out.hits {
			switch {
			case h.Known() && h.Offset == int64(at):
				known++
			case !h.Known() && h.Offset == int64(at+100):
				rule++
			default:
				t.Errorf("at %d: unexpected hit at %d", at, h.Offset)
			}
		}
		if known != 1 || rule != 1 {
			t.Errorf("at %d: %d known, %d rule hits", at, known, rule)
		}
	}
}

// A match the confirmer says to skip is counted, once per place, and not
// reported; Replace cuts out every match, adjacent ones once.
func TestSkipAndReplace(t *testing.T) {
	tok := "ghp_" + randString(t, alnum, 36)
	skip := skipAll{regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{36}`)}
	d := New(nil, []Keyword{{Text: "ghp_", Rule: 0, After: 64}}, skip)
	var hits int
	d.Scanner().Bytes([]byte("a "+tok+" b "+tok), func(Hit) { hits++ })
	if hits != 0 || d.Skipped() != 2 {
		t.Errorf("%d hits, %d skipped; want 0, 2", hits, d.Skipped())
	}
	v := randString(t, alnum, 12)
	r := githubToken(Value{Name: "V", Value: []byte(v)})
	got := r.Scanner().Replace("x "+v+v+" "+tok+" y", "[R]")
	if got != "x [R] [R] y" {
		t.Errorf("Replace: %q", strings.NewReplacer(v, "V", tok, "TOK").Replace(got))
	}
}

type skipAll struct{ re *regexp.Regexp }

func (s skipAll) Confirm(rule int, win []byte, at int, dst []Match) []Match {
	for _, m := range s.re.FindAllIndex(win, -1) {
		dst = append(dst, Match{Start: m[0], End: m[1], Skip: true})
	}
	return dst
}

func TestShortValues(t *testing.T) {
	d := New([]Value{{Name: "S", Value: []byte("1234567")}, {Name: "E"}, {Name: "L", Value: []byte("12345678")}}, nil, nil)
	if s := d.Short(); len(s) != 1 || s[0] != 0 {
		t.Fatal(s)
	}
	var names []string
	d.Scanner().Bytes([]byte("a 1234567 12345678 b"), func(h Hit) { names = append(names, h.Name) })
	if strings.Join(names, ",") != "L" {
		t.Fatal(names)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"abcdefgh":                        "a**** (8 bytes)",
		"ghp_0123456789abcdefghijklmnopq": "ghp**** (31 bytes)",
		"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f": ".. **** (16 bytes)",
	} {
		got := Preview([]byte(in))
		if strings.HasPrefix(want, "..") {
			want = "..**** (16 bytes)"
		}
		if got != want {
			t.Errorf("Preview(%q) = %q, want %q", in, got, want)
		}
	}
}
