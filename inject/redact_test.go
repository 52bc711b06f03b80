package inject

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// reference is the obviously correct redaction: at each position, the
// longest value that starts there is replaced; a value that starts inside
// the match and ends past it extends the match (named after the longest).
func reference(text []byte, secrets []Secret) []byte {
	var out []byte
	for i := 0; i < len(text); {
		best := -1
		for j, s := range secrets {
			if len(s.Value) < MinRedactLen || !bytes.HasPrefix(text[i:], s.Value) {
				continue
			}
			if best < 0 || len(s.Value) > len(secrets[best].Value) {
				best = j
			}
		}
		if best < 0 {
			out = append(out, text[i])
			i++
			continue
		}
		end := i + len(secrets[best].Value)
		for k := i + 1; k < end; k++ {
			for j, s := range secrets {
				if len(s.Value) >= MinRedactLen && k+len(s.Value) > end && bytes.HasPrefix(text[k:], s.Value) {
					end = k + len(s.Value)
					if len(s.Value) > len(secrets[best].Value) {
						best = j
					}
				}
			}
		}
		// the first name given for this value wins
		name := secrets[best].Name
		for _, s := range secrets {
			if bytes.Equal(s.Value, secrets[best].Value) {
				name = s.Name
				break
			}
		}
		out = append(out, "[REDACTED:"+name+"]"...)
		i = end
	}
	return out
}

// redactChunks writes text through a fresh redactor in the given chunk sizes.
func redactChunks(t *testing.T, mt *Matcher, text []byte, sizes func() int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := mt.Writer(&out)
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

func TestRedactorOneByteWrites(t *testing.T) {
	t.Parallel()
	secrets := []Secret{
		{Name: "DB_PASSWORD", Value: []byte("hunter2-correct-horse")},
		{Name: "API_TOKEN", Value: []byte("tok_51HxYz")},
	}
	mt := NewMatcher(secrets)
	text := []byte("connecting with hunter2-correct-horse and tok_51HxYz\nhunter2-correct-hors is not it; tok_51HxYztok_51HxYz")
	got := redactChunks(t, mt, text, func() int { return 1 })
	want := "connecting with [REDACTED:DB_PASSWORD] and [REDACTED:API_TOKEN]\nhunter2-correct-hors is not it; [REDACTED:API_TOKEN][REDACTED:API_TOKEN]"
	if string(got) != want {
		t.Errorf("redacted output differs:\n got %q\nwant %q", got, want)
	}
}

func TestRedactorLongestMatchAcrossWrites(t *testing.T) {
	t.Parallel()
	// One value is a prefix of another: the longer one must win even when
	// the shorter one is complete at the end of a write.
	secrets := []Secret{
		{Name: "SHORT", Value: []byte("abcdef")},
		{Name: "LONG", Value: []byte("abcdefghij")},
	}
	mt := NewMatcher(secrets)
	var out bytes.Buffer
	w := mt.Writer(&out)
	io.WriteString(w, "x abcdef")
	if got := out.String(); got != "x " {
		t.Errorf("after a complete shorter value that may grow: wrote %q, want %q", got, "x ")
	}
	io.WriteString(w, "ghij y abcdef z")
	w.Flush()
	if got, want := out.String(), "x [REDACTED:LONG] y [REDACTED:SHORT] z"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRedactorOverlappingValues: values that overlap in the output (the
// end of one is the start of another, one inside another) are redacted as
// one, under the longest one's name, in any chunking: no byte of either is
// left.
func TestRedactorOverlappingValues(t *testing.T) {
	t.Parallel()
	secrets := []Secret{
		{Name: "USER_TOKEN", Value: []byte("abcd-1234")},
		{Name: "SESSION", Value: []byte("1234-wxyz-5678")},
		{Name: "OUTER", Value: []byte("prefix-secretvalue-suffix")},
		{Name: "INNER", Value: []byte("secretvalue")},
	}
	mt := NewMatcher(secrets)
	text := []byte("a=abcd-1234-wxyz-5678; b=prefix-secretvalue-suffix; c=secretvalue; d=xyz-abcd-1234-wxyz-5678-abcd-1234!")
	want := "a=[REDACTED:SESSION]; b=[REDACTED:OUTER]; c=[REDACTED:INNER]; d=xyz-[REDACTED:SESSION]-[REDACTED:USER_TOKEN]!"
	for _, size := range []int{1, 2, 3, 5, 8, 13, len(text)} {
		got := redactChunks(t, mt, text, func() int { return size })
		if string(got) != want {
			t.Errorf("chunks of %d:\n got %q\nwant %q", size, got, want)
		}
		for _, s := range secrets {
			for _, part := range []string{string(s.Value[:4]), string(s.Value[len(s.Value)-4:])} {
				if strings.Contains(string(got), part) {
					t.Errorf("chunks of %d: %q of %s is left in %q", size, part, s.Name, got)
				}
			}
		}
	}
}

func TestRedactorHoldsBackOnlyPossiblePrefixes(t *testing.T) {
	t.Parallel()
	mt := NewMatcher([]Secret{{Name: "K", Value: []byte("s3cr3t-value")}})
	var out bytes.Buffer
	w := mt.Writer(&out)

	// A prompt without a newline that cannot start a value appears at once.
	io.WriteString(w, "password: ")
	if got := out.String(); got != "password: " {
		t.Fatalf("prompt held back: wrote %q", got)
	}
	// A tail that could start the value is held, and only that tail.
	io.WriteString(w, "ok s3c")
	if got := out.String(); got != "password: ok " {
		t.Fatalf("wrote %q, want %q", got, "password: ok ")
	}
	// It turns out not to be the value: released with the next write.
	io.WriteString(w, "ond\n")
	if got := out.String(); got != "password: ok s3cond\n" {
		t.Fatalf("wrote %q", got)
	}
	// A partial value at the end of the stream is flushed as it is.
	io.WriteString(w, "s3cr3t-valu")
	w.Flush()
	if got := out.String(); got != "password: ok s3cond\ns3cr3t-valu" {
		t.Fatalf("after flush wrote %q", got)
	}
}

func TestRedactorShortValuesIgnored(t *testing.T) {
	t.Parallel()
	mt := NewMatcher([]Secret{{Name: "PORT", Value: []byte("80")}, {Name: "EMPTY"}})
	if mt.Len() != 0 {
		t.Fatalf("Len = %d, want 0", mt.Len())
	}
	var out bytes.Buffer
	w := mt.Writer(&out)
	io.WriteString(w, "listening on 80")
	w.Flush()
	if out.String() != "listening on 80" {
		t.Errorf("got %q", out.String())
	}
}

func TestRedactorMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab-c\n" // small, so that values and near-misses overlap a lot
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for iter := 0; iter < 2000; iter++ {
		var secrets []Secret
		for i := range 1 + rng.IntN(6) {
			secrets = append(secrets, Secret{Name: fmt.Sprintf("K%d", i), Value: word(1 + rng.IntN(9))})
		}
		var text []byte
		for range rng.IntN(20) {
			if rng.IntN(3) == 0 && len(secrets) > 0 {
				text = append(text, secrets[rng.IntN(len(secrets))].Value...)
			} else {
				text = append(text, word(rng.IntN(6))...)
			}
		}
		mt := NewMatcher(secrets)
		want := reference(text, secrets)
		maxChunk := 1 + rng.IntN(12)
		got := redactChunks(t, mt, text, func() int { return 1 + rng.IntN(maxChunk) })
		if !bytes.Equal(got, want) {
			t.Fatalf("iteration %d: chunked output differs from the reference\ntext %q\n got %q\nwant %q", iter, text, got, want)
		}
	}
}

// benchValues returns n token-like values of 20 to 40 bytes.
func benchValues(n int) []Secret {
	rng := rand.New(rand.NewPCG(3, 4))
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	out := make([]Secret, n)
	for i := range out {
		v := make([]byte, 20+rng.IntN(21))
		for j := range v {
			v[j] = chars[rng.IntN(len(chars))]
		}
		out[i] = Secret{Name: fmt.Sprintf("SECRET_%d", i), Value: v}
	}
	return out
}

// benchLog is log-like text with one sealed value about every 4 KiB.
func benchLog(secrets []Secret, size int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	line := "2026-11-22T08:00:00Z INFO request handled method=GET path=/api/v1/items status=200 duration=1.234ms user=alice@example.com\n"
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(line)
		if rng.IntN(35) == 0 {
			b.WriteString("token=")
			b.Write(secrets[rng.IntN(len(secrets))].Value)
			b.WriteString("\n")
		}
	}
	return []byte(b.String()[:size])
}

// BenchmarkRedact measures redaction throughput with 100 sealed values on
// log-like output written in 32 KiB chunks (the size of a pipe read).
func BenchmarkRedact(b *testing.B) {
	secrets := benchValues(100)
	mt := NewMatcher(secrets)
	text := benchLog(secrets, 4<<20)
	benchWrites(b, mt, text)
}

// BenchmarkRedactRandom is the floor: a redactor over random bytes that
// never contain a value.
func BenchmarkRedactRandom(b *testing.B) {
	secrets := benchValues(100)
	mt := NewMatcher(secrets)
	text := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{7, 8}).Read(text)
	benchWrites(b, mt, text)
}

// benchWrites redacts text with mt in the 32 KiB writes of a pipe reader,
// b.N times.
func benchWrites(b *testing.B, mt *Matcher, text []byte) {
	w := mt.Writer(io.Discard)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for range b.N {
		for off := 0; off < len(text); off += 32 << 10 {
			w.Write(text[off:min(off+32<<10, len(text))])
		}
		w.Flush()
	}
}

// FuzzRedactor checks the streaming redactor against the one-shot reference
// for any text, any two values and any chunking.
func FuzzRedactor(f *testing.F) {
	f.Add([]byte("say abcdef then abcdefghij"), []byte("abcdef"), []byte("abcdefghij"), uint8(1))
	f.Add([]byte("aaaaaaaaaa"), []byte("aaaa"), []byte("aaaaab"), uint8(3))
	f.Add([]byte("x abcd1234wxyz y"), []byte("abcd1234"), []byte("1234wxyz"), uint8(2))
	f.Fuzz(func(t *testing.T, text, v1, v2 []byte, chunk uint8) {
		secrets := []Secret{{Name: "A", Value: v1}, {Name: "B", Value: v2}}
		mt := NewMatcher(secrets)
		want := reference(text, secrets)
		size := int(chunk%16) + 1
		got := redactChunks(t, mt, text, func() int { return size })
		if !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: got %q, want %q", size, got, want)
		}
	})
}
