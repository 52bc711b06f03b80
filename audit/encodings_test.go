package audit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"strings"
	"testing"
	"unicode/utf16"
)

// Percent-encoding of every byte, JSON
// \uXXXX escapes (Python's ensure_ascii, and of every character), HTML
// escapes, and base64 wrapped at 64 and 76 columns at every column.
func TestMoreEncodings(t *testing.T) {
	t.Parallel()
	v := []byte(randString(t, alnum, 20) + `<&>"' é€😀`)
	d := defaultDetectors([]Value{{Name: "V", Value: v}})
	find := func(form string) bool {
		for _, h := range collect(d, []byte("<<"+form+">>"), false) {
			if h.Name == "V" {
				return true
			}
		}
		return false
	}
	var pct, pyJSON, allJSON strings.Builder
	for _, c := range v {
		fmt.Fprintf(&pct, "%%%02x", c)
	}
	for _, r := range string(v) {
		switch {
		case r == '"':
			pyJSON.WriteString(`\"`)
		case r < 0x80:
			pyJSON.WriteRune(r)
		case r > 0xffff:
			a, b := utf16.EncodeRune(r)
			fmt.Fprintf(&pyJSON, `\u%04x\u%04x`, a, b)
		default:
			fmt.Fprintf(&pyJSON, `\u%04x`, r)
		}
		if r > 0xffff {
			a, b := utf16.EncodeRune(r)
			fmt.Fprintf(&allJSON, `\u%04X\u%04X`, a, b)
		} else {
			fmt.Fprintf(&allJSON, `\u%04X`, r)
		}
	}
	for name, form := range map[string]string{
		"percent every byte": pct.String(),
		"python json":        pyJSON.String(),
		"json every char":    allJSON.String(),
		"html":               html.EscapeString(string(v)),
	} {
		if !find(form) {
			t.Errorf("%s: not found", name)
		}
	}
	// base64 -w 76 and PEM's 64 columns, the value at every column.
	for _, width := range []int{64, 76} {
		for _, nl := range []string{"\n", "\r\n"} {
			for pre := 0; pre < width; pre++ {
				enc := base64.StdEncoding.EncodeToString(append(bytes.Repeat([]byte{'x'}, pre), v...))
				var b strings.Builder
				for i := 0; i < len(enc); i += width {
					b.WriteString(enc[i:min(i+width, len(enc))])
					b.WriteString(nl)
				}
				if !find(b.String()) {
					t.Fatalf("base64 wrapped at %d (%q), %d bytes before: not found", width, nl, pre)
				}
			}
		}
	}
}
