// Package rules holds the detector rules of sealenv audit: the built-in,
// versioned rule set for well-known credential formats, and the parser for
// rule files that users add.
//
// # Rule files
//
// A rule file is YAML with a version and a list of rules (see default.yaml,
// embedded in this package and returned by [Default]). A rule fires only where
// one of its keywords occurs; its regex then runs on a small window around
// the keyword, so the cost of a rule is paid only where it can match.
//
// # Severity
//
// Rules are high, medium or low. The audit reports medium and above by
// default; low rules are broad heuristics for a manual review.
package rules

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Severity orders how bad a finding is.
type Severity int

// Severities, lowest first.
const (
	Low Severity = iota + 1
	Medium
	High
)

// ParseSeverity reads "low", "medium" or "high".
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "low":
		return Low, nil
	case "medium":
		return Medium, nil
	case "high":
		return High, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want low, medium or high)", s)
}

func (s Severity) String() string {
	switch s {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return "unknown"
}

// Rule is one compiled detector rule.
type Rule struct {
	ID          string
	Description string
	Severity    Severity
	// Keywords are matched without regard to ASCII case.
	Keywords []string
	// Pattern is the regular expression as the rule file wrote it;
	// [Rule.Regex] compiles it.
	Pattern string
	regex   func() *regexp.Regexp
	// SecretGroup is the capture group that holds the secret (0: whole match).
	SecretGroup int
	// Before and MaxLen bound the window the regex runs on, relative to the
	// start of a keyword.
	Before, MaxLen int
	// Entropy is the minimum Shannon entropy of the secret, in bits per byte.
	Entropy   float64
	Stopwords []string
	// Requires lists strings that must all occur in the window after the
	// keyword before the regex runs: a cheap second prefilter.
	Requires []string
	// Validate names a check of the secret's form beyond the regex:
	// "basic-auth", an HTTP Basic credential (base64 of user:password,
	// which the stopwords are checked against too).
	Validate string
	// Example is a template of a true positive (see default.yaml); Not lists
	// strings that must not match.
	Example string
	Not     []string
}

// Set is a versioned list of rules.
type Set struct {
	Version string
	Rules   []*Rule
	// Public maps the SHA-256 (hex) of secrets that are published on
	// purpose, such as the example keys in the Go source tree, to the reason
	// they are not secret. A match with such a fingerprint is not reported.
	// Only the exact bytes are skipped, never a path or a pattern.
	Public map[string]string
}

type rawSet struct {
	Version string      `yaml:"version"`
	Rules   []Spec      `yaml:"rules"`
	Public  []rawPublic `yaml:"public"`
}

type rawPublic struct {
	SHA256 string `yaml:"sha256"`
	Reason string `yaml:"reason"`
}

// Fingerprint is the SHA-256 (hex) of a secret, as [Set.Public] lists it.
func Fingerprint(secret []byte) string {
	h := sha256.Sum256(secret)
	return hex.EncodeToString(h[:])
}

// Spec is a rule as a rule file (or the policy file) writes it, before
// [Spec.Compile] checks it.
type Spec struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description"`
	Severity    string   `yaml:"severity"`
	Keywords    []string `yaml:"keywords"`
	Regex       string   `yaml:"regex"`
	SecretGroup *int     `yaml:"secret_group"`
	Before      int      `yaml:"before"`
	MaxLen      int      `yaml:"max_len"`
	Entropy     float64  `yaml:"entropy"`
	Stopwords   []string `yaml:"stopwords"`
	Requires    []string `yaml:"requires"`
	Validate    string   `yaml:"validate"`
	Example     string   `yaml:"example"`
	Not         []string `yaml:"not"`

	// Compiled, when set, is Regex already compiled (a policy file's
	// rules are, when the policy is loaded).
	Compiled *regexp.Regexp `yaml:"-"`
}

// Default returns the built-in rule set.
func Default() *Set {
	s, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic("rules: built-in rule set: " + err.Error())
	}
	return s
}

// ErrInvalid is wrapped by every error about a rule file's content.
var ErrInvalid = errors.New("invalid rule")

// Parse reads and compiles a rule file. Errors name the file and the rule.
func Parse(name string, data []byte) (*Set, error) {
	var raw rawSet
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		return nil, fmt.Errorf("%s: %s", name, strings.Join(strings.Fields(msg), " "))
	}
	if raw.Version == "" {
		return nil, fmt.Errorf("%s: %w: the file has no version", name, ErrInvalid)
	}
	s := &Set{Version: raw.Version, Public: map[string]string{}}
	for i, p := range raw.Public {
		if len(p.SHA256) != 64 || strings.Trim(strings.ToLower(p.SHA256), "0123456789abcdef") != "" {
			return nil, fmt.Errorf("%s: public %d: %w: sha256 must be 64 hex digits", name, i+1, ErrInvalid)
		}
		if strings.TrimSpace(p.Reason) == "" {
			return nil, fmt.Errorf("%s: public %d: %w: every entry needs a reason", name, i+1, ErrInvalid)
		}
		s.Public[strings.ToLower(p.SHA256)] = p.Reason
	}
	seen := map[string]bool{}
	for i, r := range raw.Rules {
		c, err := r.Compile()
		if err != nil {
			id := r.ID
			if id == "" {
				id = fmt.Sprintf("rule %d", i+1)
			}
			return nil, fmt.Errorf("%s: %s: %w: %s", name, id, ErrInvalid, err)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("%s: %s: %w: duplicate id", name, c.ID, ErrInvalid)
		}
		seen[c.ID] = true
		s.Rules = append(s.Rules, c)
	}
	return s, nil
}

var idRe = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// Compile checks a rule and compiles its regex. Errors name the field, not
// the rule (the caller knows where the rule came from).
func (r Spec) Compile() (*Rule, error) {
	if !idRe.MatchString(r.ID) {
		return nil, fmt.Errorf("id must be kebab-case")
	}
	sev, err := ParseSeverity(r.Severity)
	if err != nil {
		return nil, err
	}
	if len(r.Keywords) == 0 {
		return nil, fmt.Errorf("no keywords")
	}
	for _, k := range r.Keywords {
		if len(k) < 3 {
			return nil, fmt.Errorf("keyword %q is shorter than 3 bytes", k)
		}
	}
	// The regex is checked here (parsed, which is what can fail) and
	// compiled on first use: most rules of a set run on no byte of an
	// audit whose layers all come from the verdict cache, and compiling
	// the built-in set cost every audit a few milliseconds.
	var regex func() *regexp.Regexp
	var groups int
	if re := r.Compiled; re != nil {
		r.Regex = re.String()
		regex = func() *regexp.Regexp { return re }
		groups = re.NumSubexp()
	} else {
		p, err := syntax.Parse(r.Regex, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("regex: %v", err)
		}
		groups = p.MaxCap()
		expr := r.Regex
		regex = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
	}
	g := 0
	if groups > 0 {
		g = 1
	}
	if r.SecretGroup != nil {
		g = *r.SecretGroup
	}
	if g < 0 || g > groups {
		return nil, fmt.Errorf("secret_group %d: the regex has %d groups", g, groups)
	}
	if r.Before < 0 || r.Before > 4096 || r.MaxLen < 0 || r.MaxLen > 65536 {
		return nil, fmt.Errorf("before must be 0..4096 and max_len 0..65536")
	}
	if r.MaxLen == 0 {
		r.MaxLen = 256
	}
	if r.Entropy < 0 || r.Entropy > 8 {
		return nil, fmt.Errorf("entropy must be 0..8 bits per byte")
	}
	switch r.Validate {
	case "", "basic-auth":
	default:
		return nil, fmt.Errorf("validate %q: want basic-auth", r.Validate)
	}
	return &Rule{
		ID: r.ID, Description: r.Description, Severity: sev,
		Keywords: r.Keywords, Pattern: r.Regex, regex: regex, SecretGroup: g,
		Before: r.Before, MaxLen: r.MaxLen, Entropy: r.Entropy,
		Stopwords: r.Stopwords, Requires: r.Requires, Validate: r.Validate, Example: r.Example, Not: r.Not,
	}, nil
}

// Merge returns a set with the rules of s followed by those of more; a rule
// in more replaces a rule of s with the same id.
func (s *Set) Merge(more *Set) *Set {
	out := &Set{Version: s.Version + "+" + more.Version, Public: map[string]string{}}
	for k, v := range s.Public {
		out.Public[k] = v
	}
	for k, v := range more.Public {
		out.Public[k] = v
	}
	idx := map[string]int{}
	for _, r := range s.Rules {
		idx[r.ID] = len(out.Rules)
		out.Rules = append(out.Rules, r)
	}
	for _, r := range more.Rules {
		if i, ok := idx[r.ID]; ok {
			out.Rules[i] = r
			continue
		}
		out.Rules = append(out.Rules, r)
	}
	return out
}

// Regex returns the rule's regular expression, compiled on its first use
// (safe from several goroutines at once).
func (r *Rule) Regex() *regexp.Regexp { return r.regex() }

// Accept reports whether secret, the text a rule's secret group matched,
// passes the rule's entropy and stopword checks.
func (r *Rule) Accept(secret []byte) bool {
	if r.Entropy > 0 && Entropy(secret) < r.Entropy {
		return false
	}
	if r.Validate == "basic-auth" {
		cred, ok := basicCredential(secret)
		if !ok || !r.clean(cred) {
			return false
		}
	}
	return r.clean(secret)
}

// basicCredential decodes an HTTP Basic credential (base64 of
// user:password, padded or not, the password 4 bytes or more).
func basicCredential(b []byte) ([]byte, bool) {
	s := strings.TrimRight(string(b), "=")
	dec, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || !utf8.Valid(dec) {
		return nil, false
	}
	user, pass, ok := bytes.Cut(dec, []byte(":"))
	if !ok || len(pass) < 4 || bytes.ContainsFunc(user, unicode.IsControl) || bytes.ContainsFunc(pass, unicode.IsControl) {
		return nil, false
	}
	return dec, true
}

// clean reports whether secret holds none of the rule's stopwords.
func (r *Rule) clean(secret []byte) bool {
	if len(r.Stopwords) == 0 {
		return true
	}
	lower := bytes.ToLower(secret)
	norm := normalize(lower)
	for _, w := range r.Stopwords {
		w = strings.ToLower(w)
		if bytes.Contains(lower, []byte(w)) || bytes.Contains(norm, []byte(w)) {
			return false
		}
	}
	return true
}

// normalize undoes URL escapes and common letter swaps, and drops what is
// not a letter, so that "pa%2Fssword", "p%40ssw0rd" and "passwo^rd" all
// meet the stopword "password".
func normalize(b []byte) []byte {
	if u, err := url.PathUnescape(string(b)); err == nil {
		b = []byte(u)
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch c {
		case '@', '4':
			c = 'a'
		case '$', '5':
			c = 's'
		case '0':
			c = 'o'
		case '3':
			c = 'e'
		case '1', '!':
			c = 'i'
		case '7':
			c = 't'
		}
		if 'a' <= c && c <= 'z' {
			out = append(out, c)
		}
	}
	return out
}

// Entropy is the Shannon entropy of b in bits per byte.
func Entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var n [256]int
	for _, c := range b {
		n[c]++
	}
	var h float64
	l := float64(len(b))
	for _, c := range n {
		if c > 0 {
			p := float64(c) / l
			h -= p * math.Log2(p)
		}
	}
	return h
}
