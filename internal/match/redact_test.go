package match

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// reference is the obviously correct redaction: at each position, the
// longest pattern that starts there is replaced, with the name of the first
// value that has it; a pattern that starts inside the match and ends past
// it extends the match, whose name is then the longest pattern's.
func reference(text []byte, pats []Value) []byte {
	var out []byte
	for i := 0; i < len(text); {
		best := -1
		for j, p := range pats {
			if bytes.HasPrefix(text[i:], p.Value) && (best < 0 || len(p.Value) > len(pats[best].Value)) {
				best = j
			}
		}
		if best < 0 {
			out = append(out, text[i])
			i++
			continue
		}
		end, name := i+len(pats[best].Value), best
		for k := i + 1; k < end; k++ {
			for j, p := range pats {
				if k+len(p.Value) > end && bytes.HasPrefix(text[k:], p.Value) {
					end = k + len(p.Value)
					if len(p.Value) > len(pats[name].Value) {
						name = j
					}
				}
			}
		}
		out = append(out, "[REDACTED:"+pats[name].Name+"]"...)
		i = end
	}
	return out
}

// redactChunks writes text through a new writer of r in the given chunk
// sizes.
func redactChunks(t *testing.T, r *Redactor, text []byte, sizes func() int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := r.Writer(&out)
	for rest := text; len(rest) > 0; {
		n := min(max(sizes(), 1), len(rest))
		if k, err := w.Write(rest[:n]); err != nil || k != n {
			t.Fatalf("Write = %d, %v; want %d, nil", k, err, n)
		}
		rest = rest[n:]
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Both redactors agree with the reference on text where values, their
// forms and near misses overlap, in any chunking.
func TestRedactorMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := "ab-c\n=%" // small, so that patterns and near misses overlap a lot
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for iter := 0; iter < 500; iter++ {
		var values []Value
		for i := range 1 + rng.IntN(4) {
			values = append(values, Value{Name: fmt.Sprintf("K%d", i), Value: word(3 + rng.IntN(10))})
		}
		// The forms, first value first, each once, as NewRedactor takes them.
		var forms []Value
		seen := map[string]bool{}
		for _, v := range values {
			if len(v.Value) < MinLen {
				continue
			}
			for _, f := range Forms(v.Value) {
				if !seen[string(f.Text)] {
					seen[string(f.Text)] = true
					forms = append(forms, Value{Name: v.Name, Value: f.Text})
				}
			}
		}
		var raw []Value
		seen = map[string]bool{}
		for _, v := range values {
			if len(v.Value) >= 4 && !seen[string(v.Value)] {
				seen[string(v.Value)] = true
				raw = append(raw, v)
			}
		}
		var text []byte
		for range rng.IntN(20) {
			switch k := rng.IntN(4); {
			case k == 0 && len(forms) > 0:
				text = append(text, forms[rng.IntN(len(forms))].Value...)
			case k == 1:
				text = append(text, values[rng.IntN(len(values))].Value...)
			default:
				text = append(text, word(rng.IntN(6))...)
			}
		}
		maxChunk := 1 + rng.IntN(12)
		for _, c := range []struct {
			r    *Redactor
			pats []Value
		}{{NewRedactor(values), forms}, {NewRawRedactor(values, 4), raw}} {
			want := reference(text, c.pats)
			got := redactChunks(t, c.r, text, func() int { return 1 + rng.IntN(maxChunk) })
			if !bytes.Equal(got, want) {
				t.Fatalf("iteration %d: chunked output differs from the reference\ntext %q\n got %q\nwant %q", iter, text, got, want)
			}
		}
	}
}

// After the underlying writer fails, the writer keeps returning its error;
// after Zero, nothing is replaced and nothing is held.
func TestRedactorErrorsAndZero(t *testing.T) {
	v := []byte(randString(t, alnum, 16))
	r := NewRawRedactor([]Value{{Name: "K", Value: v}}, 4)
	boom := errors.New("boom")
	w := r.Writer(failWriter{boom})
	if _, err := w.Write([]byte("text ")); !errors.Is(err, boom) {
		t.Fatalf("Write: %v", err)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, boom) {
		t.Errorf("second Write: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush: %v", err)
	}
	var out bytes.Buffer
	w = r.Writer(&out)
	w.Write(append([]byte("x "), v[:5]...))
	r.Zero()
	w.Write(v[5:])
	w.Flush()
	if r.Len() != 0 || out.String() != "x "+string(v) {
		t.Errorf("after Zero: %d patterns, wrote %d bytes", r.Len(), out.Len())
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
