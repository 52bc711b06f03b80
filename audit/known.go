package audit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sealenv/sealenv/seal"
)

// MinValueLen is the shortest sealed value, in bytes, that the known-value
// detector searches for. Shorter values would match by chance in any large
// image; they are not searched, and the report is incomplete unless the
// options accept that (Options.AllowShort, Options.ShortAccepted).
const MinValueLen = 8

// minPatternLen is the length of the hashed prefix of every pattern; every
// encoded form of a value of MinValueLen bytes is at least this long.
const minPatternLen = 8

// Value is a secret value to search for, with the name it has in its bundle.
type Value = seal.Secret

// pattern is one encoded form of one value.
type pattern struct {
	text     []byte
	name     string
	encoding string
}

// knownSet holds every encoded form of every value, indexed by a hash of
// its first eight bytes.
type knownSet struct {
	patterns []pattern
	bits     uint
	table    []uint64  // bitset over the prefix hash
	heads    [][]int32 // prefix hash -> pattern indexes
	maxLen   int
	skipped  []int // indexes of the values shorter than MinValueLen (not empty)
}

// encodings lists the forms of v that the detector searches for. Base64 is
// searched at every alignment of v within the encoded stream, as the run of
// characters that depend on v alone.
func encodings(v []byte) []pattern {
	var out []pattern
	seen := map[string]bool{}
	add := func(enc string, b []byte) {
		if len(b) < minPatternLen || seen[string(b)] {
			return
		}
		seen[string(b)] = true
		out = append(out, pattern{text: b, encoding: enc})
	}
	add("raw", append([]byte(nil), v...))
	add("hex", []byte(hex.EncodeToString(v)))
	add("hex", []byte(strings.ToUpper(hex.EncodeToString(v))))
	for align := 0; align < 3; align++ {
		buf := make([]byte, align+len(v))
		copy(buf[align:], v)
		lo := (8*align + 5) / 6
		hi := 8 * (align + len(v)) / 6
		for _, e := range []struct {
			name string
			enc  *base64.Encoding
		}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
			s := e.enc.EncodeToString(buf)
			if hi > len(s) {
				hi = len(s)
			}
			add(e.name, []byte(s[lo:hi]))
		}
	}
	// Base64 as MIME (76 columns) and PEM (64) wrap it: the run of a
	// value is cut by a line break at any column.
	for align := 0; align < 3; align++ {
		buf := make([]byte, align+len(v))
		copy(buf[align:], v)
		lo := (8*align + 5) / 6
		hi := 8 * (align + len(v)) / 6
		run := base64.RawStdEncoding.EncodeToString(buf)[lo:min(hi, base64.RawStdEncoding.EncodedLen(len(buf)))]
		for _, width := range []int{64, 76} {
			for _, nl := range []string{"\n", "\r\n"} {
				for first := 1; first < len(run) && first <= width; first++ {
					var b strings.Builder
					for i, c := range []byte(run) {
						if i == first || i > first && (i-first)%width == 0 {
							b.WriteString(nl)
						}
						b.WriteByte(c)
					}
					add("base64-wrapped", []byte(b.String()))
				}
			}
		}
	}
	s := string(v)
	// URL, query and form escaping as each language writes it (see
	// escapes.go), Go's path escaping, and every byte escaped.
	for _, st := range percentStyles {
		add("url", st.encode(v))
	}
	add("url", []byte(url.PathEscape(s)))
	add("url", percentAll(v, "%%%02X"))
	add("url", percentAll(v, "%%%02x"))
	add("html", []byte(html.EscapeString(s)))
	add("html", []byte(strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace(s)))
	if utf8.ValidString(s) {
		add("url", jsEscape(s))
		// JSON string bodies as each language's encoder writes them.
		for _, st := range jsonStyles {
			add("json", st.encode(s))
		}
		// Every character as \uXXXX.
		add("json", jsonAll([]byte(s), "\\u%04x"))
		add("json", jsonAll([]byte(s), "\\u%04X"))
		u := utf16.Encode([]rune(s))
		le := make([]byte, 2*len(u))
		be := make([]byte, 2*len(u))
		for i, c := range u {
			binary.LittleEndian.PutUint16(le[2*i:], c)
			binary.BigEndian.PutUint16(be[2*i:], c)
		}
		add("utf16le", le)
		add("utf16be", be)
	}
	return out
}

// percentAll percent-encodes every byte of v.
func percentAll(v []byte, format string) []byte {
	var b strings.Builder
	for _, c := range v {
		fmt.Fprintf(&b, format, c)
	}
	return []byte(b.String())
}

// jsonAll escapes every character of s as a JSON \uXXXX escape, surrogate
// pairs above U+FFFF.
func jsonAll(s []byte, format string) []byte {
	var b strings.Builder
	for _, r := range string(s) {
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, format, r1)
			fmt.Fprintf(&b, format, r2)
			continue
		}
		fmt.Fprintf(&b, format, r)
	}
	return []byte(b.String())
}

func newKnownSet(values []Value) *knownSet {
	k := &knownSet{}
	for i, v := range values {
		if len(v.Value) < MinValueLen {
			if len(v.Value) > 0 {
				k.skipped = append(k.skipped, i)
			}
			continue
		}
		for _, p := range encodings(v.Value) {
			p.name = v.Name
			k.patterns = append(k.patterns, p)
			if len(p.text) > k.maxLen {
				k.maxLen = len(p.text)
			}
		}
	}
	k.bits = 10
	for 1<<k.bits < 8*len(k.patterns) && k.bits < 24 {
		k.bits++
	}
	k.table = make([]uint64, (1<<k.bits+63)/64)
	k.heads = make([][]int32, 1<<k.bits)
	for i, p := range k.patterns {
		h := k.hash(binary.LittleEndian.Uint64(p.text))
		k.table[h>>6] |= 1 << (h & 63)
		k.heads[h] = append(k.heads[h], int32(i))
	}
	return k
}

func (k *knownSet) hash(v uint64) uint64 {
	return (v * 0x9E3779B97F4A7C15) >> (64 - k.bits)
}

// match returns the indexes of the patterns that start at b[0].
func (k *knownSet) match(b []byte, fn func(p *pattern)) {
	if len(b) < 8 || len(k.patterns) == 0 {
		return
	}
	h := k.hash(binary.LittleEndian.Uint64(b))
	if k.table[h>>6]&(1<<(h&63)) == 0 {
		return
	}
	for _, i := range k.heads[h] {
		p := &k.patterns[i]
		if len(b) >= len(p.text) && string(b[:len(p.text)]) == string(p.text) {
			fn(p)
		}
	}
}

// coverValues fills in what the known-value detector searched: how many
// values, and which were too short to search. A short value the options do
// not accept makes the report incomplete, naming its key: the audit could
// not prove that it is not in the image. An empty value has nothing to
// find and is not counted.
func (a *auditor) coverValues() {
	cov := &a.rep.Coverage
	cov.KnownValues = 0
	for _, v := range a.o.Values {
		if len(v.Value) >= MinValueLen {
			cov.KnownValues++
		}
	}
	cov.ShortValues, cov.ShortAccepted = nil, nil
	refused := map[string]bool{}
	var names []string
	for _, i := range a.d.known.skipped {
		n := a.o.Values[i].Name
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
		if !a.o.AllowShort && !slices.Contains(a.o.ShortAccepted, i) {
			refused[n] = true
		}
	}
	var open []string
	for _, n := range names {
		cov.ShortValues = append(cov.ShortValues, n)
		if refused[n] {
			open = append(open, n)
		} else {
			cov.ShortAccepted = append(cov.ShortAccepted, n)
		}
	}
	if len(open) > 0 {
		a.incomplete("sealed values shorter than the %d-byte search minimum: %s", MinValueLen, strings.Join(open, ", "))
	}
}
