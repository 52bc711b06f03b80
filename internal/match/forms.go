package match

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MinLen is the shortest value, in bytes, whose forms a [Matcher] searches
// and a [NewRedactor] replaces. Shorter values would match by chance in any
// large image; they are not searched ([Matcher.Short] lists them).
const MinLen = 8

// minPatternLen is the length of the hashed prefix of every pattern; every
// encoded form of a value of MinLen bytes is at least this long.
const minPatternLen = 8

// Value is a secret value to search for, with the name it has in its bundle.
type Value struct {
	Name  string
	Value []byte
}

// Form is one encoded form of a value: its bytes and the name of the
// encoding ("raw", "hex", "base64", "base64url", "base64-wrapped", "url",
// "html", "json", "utf16le", "utf16be").
type Form struct {
	Text     []byte
	Encoding string
}

// pattern is one form of one named value.
type pattern struct {
	text     []byte
	name     string
	encoding string
}

// Forms lists the forms of v that a [Matcher] searches for, each once, none
// shorter than eight bytes: raw, hex, base64 (standard and URL alphabets)
// at every alignment of v within the encoded stream, as the run of
// characters that depend on v alone, base64 wrapped at 64 and 76 columns,
// the URL, form, HTML and JSON escapes of mainstream standard libraries
// (see escapes.go), and UTF-16 in both byte orders.
func Forms(v []byte) []Form {
	var out []Form
	for _, p := range encodings(v) {
		out = append(out, Form{Text: p.text, Encoding: p.encoding})
	}
	return out
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
					// The run, a break before index first, then one every
					// width characters: copied line by line.
					b := make([]byte, 0, len(run)+len(nl)*(1+len(run)/width))
					b = append(b, run[:first]...)
					for i := first; i < len(run); i += width {
						b = append(b, nl...)
						b = append(b, run[i:min(i+width, len(run))]...)
					}
					add("base64-wrapped", b)
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
	add("url", pathEscape.encode(v))
	add("url", percentAll(v, "%%%02X"))
	add("url", percentAll(v, "%%%02x"))
	add("html", []byte(htmlEscape(s)))
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

// pathEscape is Go's url.PathEscape: the RFC 3986 unreserved characters and
// the sub-delimiters a path segment keeps stay. It is written out here, as
// htmlEscape is, because importing net/url and html would link their
// tables into the injector, which imports this package (its size budget);
// forms_test.go checks both against the standard library on every byte.
var pathEscape = percentStyle{keep: "-_.~$&+:=@"}

// htmlEscape is Go's html.EscapeString.
func htmlEscape(s string) string {
	return strings.NewReplacer(`&`, "&amp;", `'`, "&#39;", `<`, "&lt;", `>`, "&gt;", `"`, "&#34;").Replace(s)
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
