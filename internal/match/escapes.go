package match

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// How mainstream languages' standard libraries (and their most used JSON
// libraries) escape a string for a URL, a form or JSON. Each style is one
// known-value pattern; styles that give the same bytes for a value are
// searched once (most values have none of the characters they differ on).
// docs/audit.md lists which function each style stands for; the tests run
// the languages that are installed as oracles.

// percentStyle is a percent-encoder: ASCII letters and digits and the
// bytes of keep stay as they are, a space is "+" or "%20", every other
// byte of the UTF-8 form is %XX.
type percentStyle struct {
	keep  string
	plus  bool // space as +
	lower bool // hex digits in lower case
}

var percentStyles = []percentStyle{
	// RFC 3986 unreserved: PHP rawurlencode, .NET Uri.EscapeDataString,
	// Ruby ERB::Util.url_encode, Python quote(s, safe=""), Perl
	// URI::Escape uri_escape.
	{keep: "-_.~"},
	// Python urllib.parse.quote (safe="/").
	{keep: "-_.~/"},
	// Go url.QueryEscape, Python quote_plus and urlencode, Ruby CGI.escape.
	{keep: "-_.~", plus: true},
	// Java URLEncoder, JavaScript URLSearchParams, Ruby
	// URI.encode_www_form_component (HTML form encoding).
	{keep: "-_.*", plus: true},
	// PHP urlencode and http_build_query.
	{keep: "-_.", plus: true},
	// JavaScript encodeURIComponent.
	{keep: "-_.!~*'()"},
	// JavaScript encodeURI.
	{keep: "-_.!~*'();,/?:@&=+$#"},
	// .NET WebUtility.UrlEncode, and HttpUtility.UrlEncode in lower case.
	{keep: "-_.!*()", plus: true},
	{keep: "-_.!*()", plus: true, lower: true},
}

const hexUpper, hexLower = "0123456789ABCDEF", "0123456789abcdef"

func (p percentStyle) encode(v []byte) []byte {
	digits := hexUpper
	if p.lower {
		digits = hexLower
	}
	out := make([]byte, 0, len(v)*3)
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c < 0x80 && strings.IndexByte(p.keep, c) >= 0:
			out = append(out, c)
		case c == ' ' && p.plus:
			out = append(out, '+')
		default:
			out = append(out, '%', digits[c>>4], digits[c&15])
		}
	}
	return out
}

// jsEscape is JavaScript's escape(): letters, digits and @*_+-./ stay,
// other characters below U+0100 are %XX (of the code point, not of its
// UTF-8 form), the others %uXXXX per UTF-16 code unit.
func jsEscape(s string) []byte {
	var out []byte
	for _, c := range utf16.Encode([]rune(s)) {
		switch {
		case c < 0x80 && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("@*_+-./", byte(c)) >= 0):
			out = append(out, byte(c))
		case c < 0x100:
			out = append(out, '%', hexUpper[c>>4], hexUpper[c&15])
		default:
			out = append(out, '%', 'u', hexUpper[c>>12], hexUpper[c>>8&15], hexUpper[c>>4&15], hexUpper[c&15])
		}
	}
	return out
}

// jsonStyle is a JSON string encoder. Every one writes \" \\ \b \f \n \r
// \t as such (unless hex names the character) and other control
// characters as \u00XX.
type jsonStyle struct {
	ascii   bool   // every character beyond ASCII as \uXXXX (UTF-16)
	upper   bool   // hex digits in upper case
	slash   bool   // / as \/
	hex     string // ASCII characters written as \uXXXX (HTML-safe sets)
	lineSep bool   // U+2028 and U+2029 as \u2028 and \u2029
	del     bool   // U+007F as \u007F
}

var jsonStyles = []jsonStyle{
	// JavaScript JSON.stringify, Python json.dumps(ensure_ascii=False),
	// Ruby JSON, Perl JSON::PP, Jackson and Newtonsoft.Json by default,
	// PHP with JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE.
	{},
	// Jackson writes other control characters in upper case.
	{upper: true},
	// Go encoding/json with SetEscapeHTML(false).
	{lineSep: true},
	// Go json.Marshal.
	{hex: "<>&", lineSep: true},
	// Python json.dumps (ensure_ascii=True, the default; DEL too), Perl
	// JSON::PP ->ascii, Ruby JSON ascii_only, PHP with
	// JSON_UNESCAPED_SLASHES; and the same in upper case.
	{ascii: true, del: true},
	{ascii: true},
	{ascii: true, upper: true},
	// PHP json_encode by default (\/ and \u escapes), and with
	// JSON_UNESCAPED_UNICODE (U+2028 and U+2029 stay escaped; with
	// JSON_UNESCAPED_SLASHES too, it is Go's form).
	{ascii: true, slash: true},
	{slash: true, lineSep: true},
	// .NET System.Text.Json by default (JavaScriptEncoder.Default): the
	// HTML-sensitive characters, the grave accent, DEL and every
	// character beyond ASCII as \uXXXX in upper case, " as \u0022.
	{ascii: true, upper: true, hex: "<>&'\"+`", del: true},
	// Gson by default (HTML-safe).
	{hex: "<>&='", lineSep: true},
}

// encode returns the body of the JSON string that holds s (valid UTF-8).
func (j jsonStyle) encode(s string) []byte {
	digits := hexLower
	if j.upper {
		digits = hexUpper
	}
	out := make([]byte, 0, len(s)+8)
	u := func(c uint16) {
		out = append(out, '\\', 'u', digits[c>>12], digits[c>>8&15], digits[c>>4&15], digits[c&15])
	}
	for _, r := range s {
		switch {
		case r < 0x80 && strings.IndexByte(j.hex, byte(r)) >= 0:
			u(uint16(r))
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r == '/' && j.slash:
			out = append(out, '\\', '/')
		case r == '\b':
			out = append(out, '\\', 'b')
		case r == '\f':
			out = append(out, '\\', 'f')
		case r == '\n':
			out = append(out, '\\', 'n')
		case r == '\r':
			out = append(out, '\\', 'r')
		case r == '\t':
			out = append(out, '\\', 't')
		case r < 0x20, r == 0x7f && j.del:
			u(uint16(r))
		case r < 0x80:
			out = append(out, byte(r))
		case j.ascii && r > 0xffff:
			a, b := utf16.EncodeRune(r)
			u(uint16(a))
			u(uint16(b))
		case j.ascii, j.lineSep && (r == 0x2028 || r == 0x2029):
			u(uint16(r))
		default:
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}
