package audit

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

// Decoder failures and limits make the audit incomplete (exit 2) with
// the file and the reason; the bytes are still searched as stored. Only
// structure that does not parse, followed by nothing the audit decodes,
// is a note.
func TestDecoderFailures(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	body := []byte("token: " + tok + "\n")
	deflated := zipOf(t, zip.Store, false, file{"conf/app.yml", body}) // stored: its bytes are the text
	unknownMethod := append([]byte(nil), deflated...)
	unknownMethod[8] = 9 // Deflate64, which the audit does not decode
	encrypted := append([]byte(nil), deflated...)
	encrypted[6] |= 1
	gzipped := gz(t, tarBytes(t, file{"inner.txt", body}))
	truncated := gzipped[:len(gzipped)-12]
	cases := []struct {
		name  string
		files []file
		want  string // an incomplete reason; "" for complete with a note
	}{
		{"zip entry in a method the audit does not decode", []file{{"lib/app.jar", unknownMethod}}, "lib/app.jar!/conf/app.yml: zip entry: compression method 9, which the audit does not decode"},
		{"encrypted zip entry", []file{{"lib/app.jar", encrypted}}, "lib/app.jar!/conf/app.yml: zip entry: encrypted"},
		{"truncated gzip, decoded beside the walk", []file{{"var/log/app.log.gz", truncated}}, "var/log/app.log.gz: gzip: unexpected EOF"},
		{"tar that stops parsing before a gzip", []file{{"backup.tar", cat(rawEntry(rawHdr{name: "a"}, []byte("x")), bytes.Repeat([]byte{'z'}, 512), gzipped)}}, ""},
		{"tar that stops parsing, nothing after it", []file{{"backup.tar", cat(rawEntry(rawHdr{name: "a"}, body), bytes.Repeat([]byte{'z'}, 1024))}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := auditFiles(t, Options{}, c.files...)
			if c.want != "" {
				wantIncomplete(t, r, c.want)
				found := false
				for _, f := range r.Findings {
					found = found || f.Rule == "github-token"
				}
				if !found {
					t.Fatalf("the stored bytes were not searched: %s", dump(t, r))
				}
				return
			}
			if !r.Coverage.Complete || len(r.Coverage.Notes) == 0 {
				t.Fatalf("want complete with a note: complete=%v errors=%q notes=%q", r.Coverage.Complete, r.Coverage.Errors, r.Coverage.Notes)
			}
			found := false
			for _, f := range r.Findings {
				found = found || f.Rule == "github-token"
			}
			if !found {
				t.Fatalf("no finding: %s", dump(t, r))
			}
		})
	}
	// Damage after damage: past 32 times, the rest is searched as stored,
	// and incomplete since it still holds a signature.
	var many []byte
	for i := 0; i < 40; i++ {
		many = append(many, zipLocal("a", []byte("x"))...)
		many = append(many, "JUNK"...)
	}
	wantIncomplete(t, auditFiles(t, Options{}, file{"many.zip", many}), "and 32 more damaged structures")

	// After the damage, the gzip found by its header is opened: its
	// content is searched decoded, at its own place.
	r := auditFiles(t, Options{}, file{"backup.tar", cat(rawEntry(rawHdr{name: "a"}, []byte("x")), bytes.Repeat([]byte{'z'}, 512), gzipped)})
	ok := false
	for _, f := range r.Findings {
		ok = ok || f.Path == "backup.tar!/inner.txt"
	}
	if !ok || !strings.Contains(strings.Join(r.Coverage.Notes, "\n"), "read on from offset 1536, where a gzip starts") {
		t.Fatalf("notes %q: %s", r.Coverage.Notes, dump(t, r))
	}
}
