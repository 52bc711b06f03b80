package rules

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var classes = map[string]string{
	"upper":  "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"lower":  "abcdefghijklmnopqrstuvwxyz",
	"digit":  "0123456789",
	"alnum":  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"hex":    "0123456789abcdef",
	"HEX":    "0123456789ABCDEF",
	"b64":    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
	"b64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	"b32":    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
	"bech32": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
}

var placeholder = regexp.MustCompile(`\{([a-zA-Z0-9]+):(\d+)\}`)

// basicUser is the user name of {basic:N}: base64 of deploy:PASSWORD, with
// N random letters and digits as the password (an HTTP Basic credential).
const basicUser = "deploy"

// Expand fills a rule's example template with random characters made now:
// true positives are never stored in the repository.
func Expand(t testing.TB, tmpl string) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		p := placeholder.FindStringSubmatch(m)
		if p[1] == "basic" {
			return base64.StdEncoding.EncodeToString([]byte(basicUser + ":" + Expand(t, "{alnum:"+p[2]+"}")))
		}
		set, ok := classes[p[1]]
		if !ok {
			t.Fatalf("unknown class %q", p[1])
		}
		n, _ := strconv.Atoi(p[2])
		b := make([]byte, n)
		for i := range b {
			k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
			b[i] = set[k.Int64()]
		}
		return string(b)
	})
}

// matches runs r the way the audit does: at each keyword, on its window.
func matches(r *Rule, s string) bool {
	ls := strings.ToLower(s)
	for _, k := range r.Keywords {
		for off := 0; ; {
			i := strings.Index(ls[off:], strings.ToLower(k))
			if i < 0 {
				break
			}
			i += off
			lo, hi := max(i-r.Before, 0), min(i+len(k)+r.MaxLen, len(s))
			ok := true
			for _, req := range r.Requires {
				ok = ok && strings.Contains(s[i:hi], req)
			}
			for _, m := range r.Regex().FindAllStringSubmatchIndex(s[lo:hi], -1) {
				if !ok {
					break
				}
				g := r.SecretGroup
				if m[2*g] >= 0 && r.Accept([]byte(s[lo:hi][m[2*g]:m[2*g+1]])) {
					return true
				}
			}
			off = i + 1
		}
	}
	return false
}

func TestDefaultRules(t *testing.T) {
	s := Default()
	if s.Version == "" || len(s.Rules) < 25 {
		t.Fatalf("version %q, %d rules", s.Version, len(s.Rules))
	}
	for _, r := range s.Rules {
		t.Run(r.ID, func(t *testing.T) {
			if r.Example == "" {
				t.Fatal("no example")
			}
			for i := 0; i < 20; i++ {
				ex := Expand(t, r.Example)
				// Alone, and embedded in text.
				for _, in := range []string{ex, "value: \"" + ex + "\"\n", "x " + ex + " y"} {
					if !matches(r, in) {
						t.Fatalf("example %d does not match (template %q)", i, r.Example)
					}
				}
			}
			for _, n := range r.Not {
				if matches(r, n) {
					t.Errorf("matches %q", n)
				}
			}
		})
	}
}

// No example of one rule fires a different high rule: rules are specific.
func TestRulesDisjoint(t *testing.T) {
	s := Default()
	for _, r := range s.Rules {
		ex := Expand(t, r.Example)
		for _, o := range s.Rules {
			if o != r && o.Severity == High && r.Severity == High && matches(o, ex) {
				t.Errorf("example of %s matches %s", r.ID, o.ID)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rules: []", "x.yaml: invalid rule: the file has no version"},
		{"version: \"1\"\nrules:\n- id: Bad_ID\n  severity: high\n  keywords: [abc]\n  regex: a", "x.yaml: Bad_ID: invalid rule: id must be kebab-case"},
		{"version: \"1\"\nrules:\n- id: r\n  severity: huge\n  keywords: [abc]\n  regex: a", `x.yaml: r: invalid rule: unknown severity "huge" (want low, medium or high)`},
		{"version: \"1\"\nrules:\n- id: r\n  severity: low\n  keywords: [ab]\n  regex: a", `x.yaml: r: invalid rule: keyword "ab" is shorter than 3 bytes`},
		{"version: \"1\"\nrules:\n- id: r\n  severity: low\n  keywords: [abc]\n  regex: '('", "x.yaml: r: invalid rule: regex: error parsing regexp: missing closing ): `(`"},
		{"version: \"1\"\nrules:\n- id: r\n  severity: low\n  keywords: [abc]\n  regex: a\n  secret_group: 2", "x.yaml: r: invalid rule: secret_group 2: the regex has 0 groups"},
		// What regexp.Compile refuses is refused when the file is read,
		// although the rule compiles its regex on first use.
		{"version: \"1\"\nrules:\n- id: r\n  severity: low\n  keywords: [abc]\n  regex: 'a{1001}'", "x.yaml: r: invalid rule: regex: error parsing regexp: invalid repeat count: `{1001}`"},
		{"version: \"1\"\nrules:\n- id: r\n  severity: low\n  keywords: [abc]\n  regex: '(a)(b)'\n  secret_group: 3", "x.yaml: r: invalid rule: secret_group 3: the regex has 2 groups"},
		{"version: \"1\"\nrules:\n- id: r\n  severity: low\n  keywords: [abc]\n  regex: a\n  colour: red", "x.yaml: line 7: field colour not found in type rules.Spec"},
	} {
		_, err := Parse("x.yaml", []byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
		if err != nil && !strings.Contains(tc.want, "line") && !errors.Is(err, ErrInvalid) {
			t.Errorf("%v is not ErrInvalid", err)
		}
	}
}

func TestMerge(t *testing.T) {
	user, err := Parse("mine.yaml", []byte("version: \"7\"\nrules:\n- id: jwt\n  severity: low\n  keywords: [eyJ]\n  regex: x\n- id: acme-token\n  severity: high\n  keywords: [acme_]\n  regex: 'acme_[a-z]{10}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := Default().Merge(user)
	if !strings.HasSuffix(m.Version, "+7") || len(m.Rules) != len(Default().Rules)+1 {
		t.Fatalf("%s %d", m.Version, len(m.Rules))
	}
	for _, r := range m.Rules {
		if r.ID == "jwt" && r.Severity != Low {
			t.Error("user rule did not replace the built-in one")
		}
	}
}

// TestRegexOnFirstUse: a rule's regex is compiled when first asked for,
// once, from its pattern; one already compiled (a policy's rule) is kept.
func TestRegexOnFirstUse(t *testing.T) {
	t.Parallel()
	for _, r := range Default().Rules {
		re := r.Regex()
		if re.String() != r.Pattern || r.Regex() != re {
			t.Errorf("%s: regex %q from pattern %q, or compiled twice", r.ID, re, r.Pattern)
		}
	}
	re := regexp.MustCompile(`tok_([a-z]{8})`)
	r, err := Spec{ID: "tok", Severity: "high", Keywords: []string{"tok_"}, Compiled: re}.Compile()
	if err != nil || r.Regex() != re || r.Pattern != re.String() || r.SecretGroup != 1 {
		t.Fatalf("compiled rule: %v %v %q %d", err, r.Regex(), r.Pattern, r.SecretGroup)
	}
	// Many goroutines asking at once get one regex.
	r, err = Spec{ID: "tok", Severity: "high", Keywords: []string{"tok_"}, Regex: `tok_([a-z]{8})`}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *regexp.Regexp, 8)
	for range cap(got) {
		go func() { got <- r.Regex() }()
	}
	first := <-got
	for range cap(got) - 1 {
		if <-got != first {
			t.Fatal("two regexes for one rule")
		}
	}
	if m := first.FindStringSubmatch("x tok_abcdefgh y"); len(m) != 2 || m[1] != "abcdefgh" {
		t.Fatalf("match %q", m)
	}
}
