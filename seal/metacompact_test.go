package seal

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// metaSamples are stored forms as EncodeMeta writes them, and near misses
// that encoding/json reads differently or refuses.
func metaSamples() []string {
	set := time.Date(2026, 12, 5, 8, 28, 57, 0, time.UTC)
	exp := set.Add(72 * time.Hour)
	return []string{
		EncodeMeta(Meta{"API_KEY": {Set: set}, "API_KEY_PREVIOUS": {Set: set, GraceOf: "API_KEY", Expires: &exp}},
			Record{Weak: []string{"EMPTY", "PLAIN"}, Sums: map[string]string{"API_KEY": "ab12", "API_KEY_PREVIOUS": "cd34"}, Wrapped: "ef56"}),
		EncodeMeta(Meta{}, Record{}),
		EncodeMeta(Meta{"db_password": {Set: set}}, Record{Sums: map[string]string{"db_password": "00"}}),
		`{"v":1,"keys":{},"weak":[]}`,
		`{"v":2,"keys":{}}`,
		`{"V":1,"Keys":{"A":{"Set":"2026-12-05T08:28:57Z"}}}`,
		`{"v":1,"v":1}`,
		`{"v":1,"keys":{"A":{"set":"2026-12-05T08:28:57Z"}},"keys":{"B":{"set":"2026-12-05T08:28:57Z"}}}`,
		`{"v":1,"keys":{"A":{"set":"2026-12-05T08:28:57Z"},"A":{"grace_of":"B"}}}`,
		`{"v":1, "weak":[]}`,
		`{"v":1,"weak":null}`,
		`{"v":01}`,
		`{"v":1.0}`,
		`{"v":-1}`,
		`{"v":1,"wrapped":"a\u0062"}`,
		`{"v":1,"keys":{"A":{"set":"not a time"}}}`,
		`{"v":1,"keys":{"A":{"set":"2026-12-05T08:28:57+01:00","expires":"2026-12-08T08:28:57.5Z"}}}`,
		`{"v":1,"future":true}`,
		`{"v":1}x`,
		`{"v":1,"weak":["A",]}`,
		`{"v":1,"ct":{"A":"1","A":"2"}}`,
		``,
	}
}

// TestParseMetaCompact: the compact reader takes what EncodeMeta writes
// (so the start never reaches encoding/json for sealenv's own bundles), and
// whatever it takes, encoding/json reads the same.
func TestParseMetaCompact(t *testing.T) {
	t.Parallel()
	for i, s := range metaSamples() {
		checkMetaCompact(t, s)
		if i < 3 {
			if _, ok := parseMetaCompact(s); !ok {
				t.Errorf("EncodeMeta's output is not read by the compact reader: %s", s)
			}
		}
	}
	for _, s := range []string{`{"V":1}`, `{"v":1,"v":1}`, `{"v":1, "weak":[]}`, `{"v":1,"wrapped":"a\u0062"}`, `{"v":1,"future":true}`} {
		if _, ok := parseMetaCompact(s); ok {
			t.Errorf("the compact reader took %s; encoding/json should read it", s)
		}
	}
	// Both paths give parseMetaDoc's answers: a document and its errors.
	if _, err := parseMetaDoc(`{"V":1}`); err != nil {
		t.Errorf("parseMetaDoc(V:1) through encoding/json: %v", err)
	}
	if _, err := parseMetaDoc(`{"v":2}`); err == nil {
		t.Error("parseMetaDoc(v:2): no error")
	}
}

// checkMetaCompact fails when the compact reader takes s and encoding/json
// reads something else, or refuses it.
func checkMetaCompact(t *testing.T, s string) {
	t.Helper()
	got, ok := parseMetaCompact(s)
	if !ok {
		return
	}
	var want metaDoc
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("compact reader took %q, encoding/json refuses it: %v", s, err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q: compact reader %+v, encoding/json %+v", s, *got, want)
	}
}

// FuzzParseMetaCompact: whatever the compact reader takes, encoding/json
// reads the same.
func FuzzParseMetaCompact(f *testing.F) {
	for _, s := range metaSamples() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkMetaCompact(t, s)
	})
}

// BenchmarkParseMeta reads a 50-key bundle's metadata, side by side with
// encoding/json (a warm process: the start also saves encoding/json's first,
// cold decode).
func BenchmarkParseMeta(b *testing.B) {
	set := time.Date(2026, 12, 5, 8, 28, 57, 0, time.UTC)
	m, sums := Meta{}, map[string]string{}
	for i := range 50 {
		name := "SECRET_" + string(rune('A'+i/26)) + string(rune('A'+i%26))
		m[name] = KeyMeta{Set: set}
		sums[name] = "0123456789abcdef"
	}
	s := EncodeMeta(m, Record{Sums: sums, Wrapped: "0123456789abcdef"})
	b.Run("compact", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseMetaCompact(s); !ok {
				b.Fatal("not read")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d metaDoc
			if err := json.Unmarshal([]byte(s), &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
