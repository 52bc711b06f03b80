package seal

import (
	"strings"
	"testing"

	"filippo.io/age"
)

// TestParseIdentityLines: identities are read line by line as age reads an
// identity file (blank lines and comments skipped, CRLF and a last line
// without a newline accepted), and an error names the line by number only.
func TestParseIdentityLines(t *testing.T) {
	t.Parallel()
	a, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := a.String(), b.String()
	for _, tc := range []struct {
		name, data string
		want       []string // recipients, in order
		err        string
	}{
		{"one", ka + "\n", []string{a.Recipient().String()}, ""},
		{"no final newline", "# created: now\n\n" + ka + "\n" + kb, []string{a.Recipient().String(), b.Recipient().String()}, ""},
		{"crlf and blanks", "# c\r\n\r\n  " + ka + "  \r\n\t\r\n" + kb + "\r\n", []string{a.Recipient().String(), b.Recipient().String()}, ""},
		{"bad third line", "# c\n" + ka + "\n" + kb[:len(kb)-2] + "\n", nil, "line 3: malformed identity"},
		{"unknown", "\n\nsecret-looking-text\n", nil, "line 3: malformed identity"},
		{"plugin", "AGE-PLUGIN-YUBIKEY-1XYZ\n", nil, "line 1: plugin identities are not supported here"},
		{"only comments", "# a\n\n# b", nil, "no identities found"},
		{"empty", "", nil, "no identities found"},
	} {
		ids, err := ParseIdentityLines([]byte(tc.data), nil)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), "AGE-SECRET-KEY") || strings.Contains(err.Error(), "secret-looking")) {
				t.Errorf("%s: the error quotes the input: %v", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, id := range ids {
			got = append(got, id.(*age.X25519Identity).Recipient().String())
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: recipients %q, want %q", tc.name, got, tc.want)
		}
	}
}
