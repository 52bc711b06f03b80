package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/match"
)

func genValue(t testing.TB, n int) []byte {
	t.Helper()
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return []byte(base64.RawURLEncoding.EncodeToString(raw)[:n])
}

// TestRedactorEveryEncoding: every form the known-value detector searches
// for is replaced, in one write and byte by byte, and nothing of the
// text around it is lost.
func TestRedactorEveryEncoding(t *testing.T) {
	t.Parallel()
	v := genValue(t, 24)
	other := genValue(t, 30)
	r := NewRedactor([]Value{{Name: "API_TOKEN", Value: v}, {Name: "OTHER", Value: other}})
	pats := match.Forms(v)
	if len(pats) < 20 {
		t.Fatalf("only %d encodings: the set changed", len(pats))
	}
	for _, p := range pats {
		in := "before " + string(p.Text) + " after"
		for _, chunk := range []int{0, 1, 7} {
			var out bytes.Buffer
			w := r.Writer(&out)
			b := []byte(in)
			if chunk == 0 {
				w.Write(b)
			}
			for chunk > 0 && len(b) > 0 {
				n := min(chunk, len(b))
				if _, err := w.Write(b[:n]); err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if strings.Contains(got, string(p.Text)) || !strings.Contains(got, "[REDACTED:API_TOKEN]") {
				t.Errorf("%s form, writes of %d bytes: not redacted (%d bytes out)", p.Encoding, chunk, len(got))
			}
			if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
				t.Errorf("%s form: the text around the value was changed", p.Encoding)
			}
		}
	}
}

// TestRedactorWhatCILogsShow: the forms a build step prints by accident:
// base64 of the value, its hex dump, curl -v's Authorization: Basic
// header, the value in a JSON string and in a URL.
func TestRedactorWhatCILogsShow(t *testing.T) {
	t.Parallel()
	v := genValue(t, 20)
	r := NewRedactor([]Value{{Name: "NPM_TOKEN", Value: v}})
	lines := []string{
		base64.StdEncoding.EncodeToString(v) + "\n",
		hex.EncodeToString(v) + "\n",
		"> Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ci:"+string(v))) + "\r\n",
		"> Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("a-longer-user:"+string(v))) + "\r\n",
		`{"token":"` + string(v) + `"}` + "\n",
		"https://registry.example.com/?t=" + string(v) + "\n",
	}
	out := string(r.Redact([]byte(strings.Join(lines, ""))))
	if n := strings.Count(out, "[REDACTED:NPM_TOKEN]"); n != len(lines) {
		t.Errorf("%d redactions, want %d", n, len(lines))
	}
	// What is left of an encoded value is at most the characters it
	// shares with its neighbours: decode every base64 run and look.
	for _, f := range strings.FieldsFunc(out, func(c rune) bool { return strings.ContainsRune(" \r\n[]:", c) }) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if d, err := enc.DecodeString(f); err == nil && bytes.Contains(d, v[:8]) {
				t.Errorf("a base64 run in the output still decodes to the value")
			}
		}
	}
	if strings.Contains(out, string(v)) || strings.Contains(out, hex.EncodeToString(v)) {
		t.Errorf("the value or its hex is in the output")
	}
}

// TestRedactorLongestFirst: where two values overlap, the longer one is
// replaced whole.
func TestRedactorLongestFirst(t *testing.T) {
	t.Parallel()
	short := genValue(t, 10)
	long := append(append([]byte{}, short...), genValue(t, 10)...)
	r := NewRedactor([]Value{{Name: "SHORT", Value: short}, {Name: "LONG", Value: long}})
	got := string(r.Redact([]byte("x" + string(long) + "y" + string(short) + "z")))
	if got != "x[REDACTED:LONG]y[REDACTED:SHORT]z" {
		t.Errorf("got %q", strings.NewReplacer(string(long), "LONGVALUE", string(short), "SHORTVALUE").Replace(got))
	}
}

// TestRedactorZeroAndErrors: after Zero nothing is matched (and nothing is
// held); a failing writer's error comes back.
func TestRedactorZeroAndErrors(t *testing.T) {
	t.Parallel()
	v := genValue(t, 16)
	r := NewRedactor([]Value{{Name: "K", Value: v}})
	r.Zero()
	zeros := make([]byte, 64)
	if got := r.Redact(zeros); !bytes.Equal(got, zeros) {
		t.Errorf("a zeroed redactor changed text")
	}
	if got := r.Redact(v); !bytes.Equal(got, v) {
		t.Errorf("a zeroed redactor still knows the value")
	}
	boom := errors.New("boom")
	held := genValue(t, 16)
	w := NewRedactor([]Value{{Name: "K", Value: held}}).Writer(failWriter{boom})
	// The start of a value waits for what follows it.
	if _, err := w.Write(held[:5]); err != nil {
		t.Fatalf("held text failed early: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush: %v, want the writer's error", err)
	}
}

// TestRedactorHoldsOnlyWhatCouldBeAValue: text that cannot begin any form
// of a value is written at once (a progress line shows while its step
// runs); the start of a value waits.
func TestRedactorHoldsOnlyWhatCouldBeAValue(t *testing.T) {
	t.Parallel()
	// A few values in a hundred have a wrapped base64 form that begins
	// with the line's last bytes ("0\n"): those rightly wait, so the test
	// draws another value; twenty in a row would be a redactor that holds
	// what it need not.
	var (
		v   []byte
		out bytes.Buffer
		w   *RedactWriter
	)
	for i := 0; ; i++ {
		v = genValue(t, 24)
		out.Reset()
		w = NewRedactor([]Value{{Name: "K", Value: v}}).Writer(&out)
		w.Write([]byte("#5 [2/2] RUN sleep 60\n"))
		if out.String() == "#5 [2/2] RUN sleep 60\n" {
			break
		}
		if i == 20 {
			t.Fatalf("written at once: %q", out.String())
		}
	}
	w.Write(append([]byte("x="), v[:10]...))
	if out.String() != "#5 [2/2] RUN sleep 60\nx=" {
		t.Errorf("the start of the value was not held: %q", strings.ReplaceAll(out.String(), string(v[:10]), "V"))
	}
	w.Write(append(v[10:], '\n'))
	if out.String() != "#5 [2/2] RUN sleep 60\nx=[REDACTED:K]\n" {
		t.Errorf("got %q", strings.ReplaceAll(out.String(), string(v), "V"))
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// BenchmarkRedactor: progress output of a build (text with no value in
// it), 20 values.
func BenchmarkRedactor(b *testing.B) {
	var vs []Value
	for i := 0; i < 20; i++ {
		vs = append(vs, Value{Name: "K", Value: genValue(b, 24)})
	}
	r := NewRedactor(vs)
	line := []byte("#7 [3/4] RUN npm ci --no-audit && node build.js > /dev/null\n#7 0.512 added 1432 packages in 3s\n")
	text := bytes.Repeat(line, 1<<14)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		w := r.Writer(discard{})
		for p := text; len(p) > 0; p = p[min(len(p), 4096):] {
			w.Write(p[:min(len(p), 4096)])
		}
		w.Flush()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
