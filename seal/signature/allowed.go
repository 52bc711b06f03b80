package signature

import (
	"fmt"
	"strings"
	"time"
)

// AllowedSigners is a parsed allowed signers file (ssh-keygen(1), ALLOWED
// SIGNERS): who may sign, with which key, for which namespaces and when.
type AllowedSigners struct {
	entries []entry
}

type entry struct {
	line       int
	principals string
	ca         bool
	namespaces string // a pattern list; "" with hasNS false: any namespace
	hasNS      bool
	after      time.Time // zero: no bound
	before     time.Time
	key        *PublicKey
}

// Len is the number of keys the file lists.
func (a *AllowedSigners) Len() int {
	if a == nil {
		return 0
	}
	return len(a.entries)
}

// Keys returns every key the file lists, with its principals, in file
// order (certificate authorities included).
func (a *AllowedSigners) Keys() []Signer {
	var out []Signer
	for _, e := range a.entries {
		out = append(out, Signer{Principals: splitPrincipals(e.principals), Key: e.key})
	}
	return out
}

func splitPrincipals(p string) []string { return strings.Split(p, ",") }

// ParseAllowedSigners parses an allowed signers file. Blank lines and lines
// starting with # are skipped; any other line must be well formed, or the
// whole file is an error naming the line (never its content beyond a key
// type or option name).
func ParseAllowedSigners(data []byte) (*AllowedSigners, error) {
	if len(data) > MaxAllowedSignersSize {
		return nil, &Error{Kind: ErrMalformedSigners, Reason: fmt.Sprintf("larger than %d bytes", MaxAllowedSignersSize)}
	}
	a := &AllowedSigners{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		e, err := parseLine(line)
		if err != nil {
			return nil, &Error{Kind: ErrMalformedSigners, Reason: fmt.Sprintf("line %d: %v", i+1, err)}
		}
		if e != nil {
			e.line = i + 1
			a.entries = append(a.entries, *e)
		}
	}
	return a, nil
}

const space = " \t"

// parseLine parses one line: principals, optional options, key. It returns
// nil for a blank or comment line.
func parseLine(line string) (*entry, error) {
	s := strings.TrimLeft(line, space)
	if s == "" || s[0] == '#' {
		return nil, nil
	}
	e := &entry{}
	// Principals: one token, or a quoted string.
	if s[0] == '"' {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, fmt.Errorf("unterminated quote in the principals")
		}
		e.principals, s = s[1:1+end], s[2+end:]
		if s != "" && !strings.ContainsRune(space, rune(s[0])) {
			return nil, fmt.Errorf("text right after the quoted principals")
		}
	} else {
		end := strings.IndexAny(s, space)
		if end < 0 {
			return nil, fmt.Errorf("principals without a key")
		}
		e.principals, s = s[:end], s[end:]
		if strings.ContainsRune(e.principals, '"') {
			return nil, fmt.Errorf("quote inside the principals")
		}
	}
	if e.principals == "" {
		return nil, fmt.Errorf("empty principals")
	}
	s = strings.TrimLeft(s, space)
	// Options, unless the next token is a key type.
	first, _, _ := strings.Cut(s, " ")
	first, _, _ = strings.Cut(first, "\t")
	if _, isKey := knownTypes[first]; !isKey {
		opts, rest, err := cutOptions(s)
		if err != nil {
			return nil, err
		}
		if err := e.parseOptions(opts); err != nil {
			return nil, err
		}
		s = strings.TrimLeft(rest, space)
		if s == "" {
			return nil, fmt.Errorf("missing key")
		}
	}
	key, err := ParseAuthorizedKey(s)
	if err != nil {
		return nil, err
	}
	e.key = key
	return e, nil
}

// cutOptions splits the options token (which may hold quoted spaces) from
// the rest of the line.
func cutOptions(s string) (opts, rest string, err error) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case !quoted && (s[i] == ' ' || s[i] == '\t'):
			return s[:i], s[i:], nil
		}
	}
	if quoted {
		return "", "", fmt.Errorf("unterminated quote in the options")
	}
	return s, "", nil
}

// parseOptions reads cert-authority, namespaces="...", valid-after="..."
// and valid-before="...", separated by commas; option names are not case
// sensitive, as in OpenSSH.
func (e *entry) parseOptions(opts string) error {
	seen := map[string]bool{}
	for opts != "" {
		name, rest, _ := strings.Cut(opts, "=")
		if comma := strings.IndexByte(name, ','); comma >= 0 {
			name, rest = opts[:comma], ""
		}
		lname := strings.ToLower(name)
		if seen[lname] {
			return fmt.Errorf("option %s given twice", printable([]byte(lname)))
		}
		seen[lname] = true
		if lname == "cert-authority" {
			e.ca = true
			opts = opts[len(name):]
		} else {
			if len(name) == len(opts) {
				return fmt.Errorf("unknown option %q", printable([]byte(name)))
			}
			if !strings.HasPrefix(rest, `"`) {
				return fmt.Errorf("option %s needs a quoted value", printable([]byte(lname)))
			}
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return fmt.Errorf("unterminated quote in option %s", lname)
			}
			value := rest[1 : 1+end]
			opts = rest[2+end:]
			switch lname {
			case "namespaces":
				e.namespaces, e.hasNS = value, true
			case "valid-after", "valid-before":
				t, err := parseTime(value)
				if err != nil {
					return fmt.Errorf("invalid %s time", lname)
				}
				if lname == "valid-after" {
					e.after = t
				} else {
					e.before = t
				}
			default:
				return fmt.Errorf("unknown option %q", printable([]byte(name)))
			}
		}
		if opts == "" {
			break
		}
		if opts[0] != ',' || len(opts) == 1 {
			return fmt.Errorf("malformed options")
		}
		opts = opts[1:]
	}
	if !e.after.IsZero() && !e.before.IsZero() && !e.before.After(e.after) {
		return fmt.Errorf(`"valid-before" time is not after "valid-after"`)
	}
	return nil
}

// parseTime reads YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, in UTC with a
// Z or UTC suffix and in local time without, as OpenSSH does.
func parseTime(s string) (time.Time, error) {
	loc := time.Local
	for _, suffix := range []string{"Z", "z", "UTC", "utc"} {
		if t, ok := strings.CutSuffix(s, suffix); ok && t != "" {
			s, loc = t, time.UTC
			break
		}
	}
	layout := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}[len(s)]
	if layout == "" {
		return time.Time{}, fmt.Errorf("bad length")
	}
	return time.ParseInLocation(layout, s, loc)
}

// Allow returns the principals under which the allowed signers allow key to
// sign a bundle at time now, or an [ErrNotAllowed] error that says why not
// (the key is absent, or each line that lists it excludes [Namespace] or
// now). Certificate authority lines never allow a plain key.
func (a *AllowedSigners) Allow(key *PublicKey, now time.Time) ([]string, error) {
	var principals []string
	var why []string
	for _, e := range a.entriesOrNil() {
		if e.ca || !e.key.Equal(key) {
			continue
		}
		switch {
		case e.hasNS && matchList(Namespace, e.namespaces) != 1:
			why = append(why, fmt.Sprintf("line %d allows it for other namespaces only", e.line))
			continue
		case !e.after.IsZero() && now.Before(e.after):
			why = append(why, fmt.Sprintf("line %d allows it from %s", e.line, e.after.UTC().Format(time.RFC3339)))
			continue
		case !e.before.IsZero() && now.After(e.before):
			why = append(why, fmt.Sprintf("line %d allowed it until %s", e.line, e.before.UTC().Format(time.RFC3339)))
			continue
		}
		principals = append(principals, splitPrincipals(e.principals)...)
	}
	if len(principals) > 0 {
		return principals, nil
	}
	reason := fmt.Sprintf("%s %s is not an allowed signer", key.Type, key.Fingerprint())
	if len(why) > 0 {
		reason += " (" + strings.Join(why, "; ") + ")"
	}
	return nil, &Error{Kind: ErrNotAllowed, Reason: reason}
}

func (a *AllowedSigners) entriesOrNil() []entry {
	if a == nil {
		return nil
	}
	return a.entries
}

// Line formats one allowed signers line that allows key to sign bundles as
// principal: `PRINCIPAL namespaces="bundle@sealenv.github.io" TYPE BASE64`.
func Line(principal string, key *PublicKey) string {
	return principal + ` namespaces="` + Namespace + `" ` + key.String()
}

// matchList is OpenSSH's match_pattern_list: 1 when a pattern of the
// comma-separated list matches s, -1 when a negated one (!pattern) does,
// 0 otherwise.
func matchList(s, list string) int {
	positive := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if matchPattern(s, p) {
			if neg {
				return -1
			}
			positive = 1
		}
	}
	return positive
}

// matchPattern matches s against a pattern of literal bytes, * (any
// sequence) and ? (one byte).
func matchPattern(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], p) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
	return s == ""
}
