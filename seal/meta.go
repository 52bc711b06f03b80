package seal

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MetaKey is the top-level key that holds per-secret metadata as compact
// JSON. Its "_unencrypted" suffix keeps it readable (SOPS's default rule) while
// the MAC still covers it.
const MetaKey = "sealenv" + DefaultUnencryptedSuffix

// GraceSuffix names the previous value of a rotated key: rotating API_KEY
// keeps the old value as API_KEY_PREVIOUS until its grace period ends.
const GraceSuffix = "_PREVIOUS"

// KeyMeta is the metadata of one key.
type KeyMeta struct {
	// Set is when the value was last set or rotated.
	Set time.Time `json:"set"`
	// GraceOf names the key this value used to be, for a grace value.
	GraceOf string `json:"grace_of,omitempty"`
	// Expires is when a grace value stops being valid.
	Expires *time.Time `json:"expires,omitempty"`
}

// Meta maps key names to their metadata.
type Meta map[string]KeyMeta

// metaDoc is the stored form: versioned so that it can grow. Fields added
// to version 1 are optional, so that every version 1 reader reads them
// (unknown fields are ignored) and this one reads bundles without them.
type metaDoc struct {
	V    int  `json:"v"`
	Keys Meta `json:"keys"`
	// Weak lists the flattened names of every empty or unencrypted value:
	// no ciphertext binds their names, so the MAC-covered metadata does
	// (see [Bundle.Unauthenticated]).
	Weak []string `json:"weak"`
	// Sums maps the flattened name of every non-empty value to a digest
	// of its stored form (the ENC[...] text, or the plain value), so that a
	// reader without any key sees which values another tool changed since
	// sealenv last wrote the bundle (see [Change]).
	Sums map[string]string `json:"ct,omitempty"`
	// Wrapped is a digest of every wrapped copy of the data key: when it
	// and every value's ciphertext changed, the data key was replaced
	// (sops rotate) and the values may be the same.
	Wrapped string `json:"wrapped,omitempty"`
	// Salt and Prints are the fingerprints of the values (see [Prints]).
	Salt   string           `json:"fps,omitempty"`
	Prints map[string]Print `json:"fp,omitempty"`
}

// Prints is what the metadata records of the fingerprints of the values,
// which an audit with no identity searches for (package
// internal/fingerprint makes and reads them; this package only stores
// them): the bundle's salt and, by flattened name, one [Print].
type Prints struct {
	Salt   string
	ByName map[string]Print
}

// Print is the fingerprint of one value, with the digest of the stored
// form it was made for ([SumOf]): when the value's stored form has another
// digest (another tool changed it), the print is stale.
type Print struct {
	For string `json:"for"`
	// Text is the fingerprint; "" with Weak for a value too short or too
	// guessable to have one.
	Text string `json:"fp,omitempty"`
	Weak bool   `json:"weak,omitempty"`
}

// ParsePrints returns the fingerprints recorded in the stored form of the
// metadata key.
func ParsePrints(s string) (Prints, error) {
	d, err := parseMetaDoc(s)
	if err != nil {
		return Prints{}, err
	}
	return Prints{Salt: d.Salt, ByName: d.Prints}, nil
}

func parseMetaDoc(s string) (*metaDoc, error) {
	d, ok := parseMetaCompact(s)
	if !ok {
		d = new(metaDoc)
		if err := json.Unmarshal([]byte(s), d); err != nil {
			return nil, malformed("%s is not valid metadata JSON", MetaKey)
		}
	}
	if d.V != 1 {
		return nil, unsupported("%s version %d (this build reads version 1)", MetaKey, d.V)
	}
	return d, nil
}

// parseMetaCompact reads the form [EncodeMeta] writes (compact JSON, the
// fields of version 1 once each, strings of printable ASCII without
// escapes) with no reflection: encoding/json's first decode costs a
// container start more than the rest of the bundle's parse. Whatever it
// accepts, json.Unmarshal reads the same (FuzzParseMetaCompact checks it);
// anything else (whitespace, escapes, null, unknown or repeated fields,
// another spelling of a field name) is not ok, and the caller lets
// encoding/json read it.
func parseMetaCompact(s string) (*metaDoc, bool) {
	d := new(metaDoc)
	p := &metaScan{s: s}
	var seen uint8
	first := func(bit uint8) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	ok := p.object(func(field string) bool {
		switch field {
		case "v":
			var ok bool
			d.V, ok = p.int()
			return first(1) && ok
		case "keys":
			d.Keys = Meta{}
			return first(2) && p.object(func(name string) bool {
				if _, dup := d.Keys[name]; dup {
					return false
				}
				var km KeyMeta
				var kseen uint8
				kfirst := func(bit uint8) bool {
					if kseen&bit != 0 {
						return false
					}
					kseen |= bit
					return true
				}
				ok := p.object(func(f string) bool {
					switch f {
					case "set":
						return kfirst(1) && p.time(&km.Set)
					case "grace_of":
						var ok bool
						km.GraceOf, ok = p.str()
						return kfirst(2) && ok
					case "expires":
						km.Expires = new(time.Time)
						return kfirst(4) && p.time(km.Expires)
					}
					return false
				})
				d.Keys[name] = km
				return ok
			})
		case "weak":
			d.Weak = []string{}
			if !first(4) || !p.next('[') {
				return false
			}
			if p.next(']') {
				return true
			}
			for {
				w, ok := p.str()
				if !ok {
					return false
				}
				d.Weak = append(d.Weak, w)
				if p.next(']') {
					return true
				}
				if !p.next(',') {
					return false
				}
			}
		case "ct":
			d.Sums = map[string]string{}
			return first(8) && p.object(func(name string) bool {
				if _, dup := d.Sums[name]; dup {
					return false
				}
				v, ok := p.str()
				d.Sums[name] = v
				return ok
			})
		case "wrapped":
			var ok bool
			d.Wrapped, ok = p.str()
			return first(16) && ok
		}
		return false
	})
	if !ok || p.i != len(s) {
		return nil, false
	}
	return d, true
}

// metaScan reads the compact JSON of parseMetaCompact.
type metaScan struct {
	s string
	i int
}

// next consumes c if it is the next byte.
func (p *metaScan) next(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (p *metaScan) str() (string, bool) {
	if !p.next('"') {
		return "", false
	}
	start := p.i
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			p.i++
			return p.s[start : p.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", false
		}
	}
	return "", false
}

// int reads a non-negative integer without leading zeros, sign, fraction
// or exponent.
func (p *metaScan) int() (int, bool) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	digits := p.s[start:p.i]
	if digits == "" || len(digits) > 1 && digits[0] == '0' || len(digits) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// time reads a string as encoding/json does into a time.Time: with the
// same time.Time.UnmarshalJSON.
func (p *metaScan) time(t *time.Time) bool {
	start := p.i
	if _, ok := p.str(); !ok {
		return false
	}
	return t.UnmarshalJSON([]byte(p.s[start:p.i])) == nil
}

// object reads an object whose members member reads, given their names,
// from just after the colon.
func (p *metaScan) object(member func(name string) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		name, ok := p.str()
		if !ok || !p.next(':') || !member(name) {
			return false
		}
		if p.next('}') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// ParseMeta parses the stored form of the metadata key.
func ParseMeta(s string) (Meta, error) {
	d, err := parseMetaDoc(s)
	if err != nil {
		return nil, err
	}
	return d.Keys, nil
}

// Record is what sealenv's metadata records about the values of the file
// it is written into, besides [Meta]: the names no ciphertext
// authenticates, a digest of each value's stored form, and a digest of the
// wrapped data keys. The authoring side takes it from [Recorded] of a
// first rendering of the file and writes it with [EncodeMeta]; a reader
// compares it with the file to find what changed since (see [Change]).
type Record struct {
	Weak    []string          // flattened names of empty, null and unencrypted values
	Sums    map[string]string // flattened name: digest of the stored form
	Wrapped string            // digest of every wrapped data key
	// Prints are written with the record; a rendering's record has none
	// (what [Recorded] compares leaves them out).
	Prints Prints
}

// EncodeMeta returns the stored form of m and the record r: compact JSON
// with sorted keys, so the same metadata always encodes to the same bytes.
func EncodeMeta(m Meta, r Record) string {
	keys := make(Meta, len(m))
	for k, v := range m {
		v.Set = v.Set.UTC().Truncate(time.Second)
		if v.Expires != nil {
			e := v.Expires.UTC().Truncate(time.Second)
			v.Expires = &e
		}
		keys[k] = v
	}
	w := append([]string{}, r.Weak...)
	sort.Strings(w)
	b, err := json.Marshal(metaDoc{V: 1, Keys: keys, Weak: w, Sums: r.Sums, Wrapped: r.Wrapped, Salt: r.Prints.Salt, Prints: r.Prints.ByName})
	if err != nil {
		panic(fmt.Sprintf("seal: encoding metadata: %v", err)) // only plain types inside
	}
	return string(b)
}

// Expired reports whether name is a grace value whose grace period ended
// before now.
func (m Meta) Expired(name string, now time.Time) bool {
	km, ok := m[name]
	return ok && km.Expires != nil && !now.Before(*km.Expires)
}

// ValidName reports whether s can be an environment variable name and a
// bundle key: [A-Za-z_][A-Za-z0-9_]*, at most 256 bytes, not starting with
// the reserved "sops_". See [CheckName] for the reason a name is refused.
func ValidName(s string) bool { return nameProblem(s) == "" }

// CheckName is the one check of a key name that a person chooses (in a
// policy, for set, in an imported .env): [ValidName], and not [MetaKey].
// The error matches [ErrInvalidName] and says why; names are not secret.
func CheckName(name string) error {
	why := nameProblem(name)
	if why == "" && name == MetaKey {
		why = "is reserved for sealenv metadata"
	}
	if why != "" {
		return &reasonError{kind: ErrInvalidName, msg: fmt.Sprintf("key %q %s", truncateName(name), why)}
	}
	return nil
}

func nameProblem(s string) string {
	if s == "" || len(s) > 256 {
		return "is not a valid environment variable name (1 to 256 characters)"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return "is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
		}
	}
	if strings.HasPrefix(s, sopsPrefix) {
		return "starts with " + sopsPrefix + ", which the SOPS dotenv store reserves for its metadata"
	}
	return ""
}

// checkName is the package's checkName, or, for a parse that accepts any
// name ([InspectAnyNames]), a check of duplicates and empty names only.
func (p *parsed) checkName(name string, seen map[string]bool) error {
	if !p.anyNames {
		return checkName(name, seen)
	}
	if name == "" || seen[name] {
		return &reasonError{kind: ErrMalformed, msg: fmt.Sprintf("duplicate or empty key %q", truncateName(name))}
	}
	seen[name] = true
	return nil
}

// checkName rejects invalid and duplicate names. Names are not secret, so
// they may appear in errors.
func checkName(name string, seen map[string]bool) error {
	if why := nameProblem(name); why != "" {
		n := truncateName(name)
		return &reasonError{kind: ErrInvalidName, msg: fmt.Sprintf("key %q %s (added with sops edit?); rename it: sealenv set --rename %q BUNDLE NEW_NAME, or remove it: sealenv unset BUNDLE %q", n, why, n, n)}
	}
	if seen[name] {
		return &reasonError{kind: ErrMalformed, msg: fmt.Sprintf("duplicate key %q", name)}
	}
	seen[name] = true
	return nil
}

func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
