package fingerprint

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/match"
)

// strong returns a random value of n characters from a 62-letter
// alphabet, made at test time.
func strong(t testing.TB, n int) []byte {
	t.Helper()
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return b
}

func salt(t testing.TB) Salt {
	t.Helper()
	s, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// filler is random bytes that contain no '\n' (so that no wrapped form can
// be continued by chance).
func filler(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte{'\n'}, []byte{0})
}

type found struct {
	name, encoding string
	offset, length int
}

// TestKeylessFindsWhatKeyedFinds plants every form of two values in one
// blob and checks that the fingerprints find exactly what the audit's
// keyed matcher finds.
func TestKeylessFindsWhatKeyedFinds(t *testing.T) {
	t.Parallel()
	s := salt(t)
	vals := map[string][]byte{"API_TOKEN": strong(t, 40), "DB_PASSWORD": []byte("pw-" + string(strong(t, 33)) + "/+=&<>\"'")}
	var blob bytes.Buffer
	prints := map[string]string{}
	var values []match.Value
	planted := 0
	for name, v := range vals {
		p, err := Make(s, v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		prints[name] = p
		values = append(values, match.Value{Name: name, Value: v})
		for _, f := range match.Forms(v) {
			blob.Write(filler(t, 37))
			blob.Write(f.Text)
			planted++
		}
	}
	blob.Write(filler(t, 37))
	set, err := NewSet([]Bundle{{Path: "prod.env", Salt: s, Prints: prints}})
	if err != nil {
		t.Fatal(err)
	}
	var keyless []found
	for _, h := range set.Search(blob.Bytes()) {
		keyless = append(keyless, found{h.Name, h.Encoding, h.Offset, h.Length})
	}
	var keyed []found
	match.New(values, nil, nil).Scanner().Bytes(blob.Bytes(), func(h match.Hit) {
		keyed = append(keyed, found{h.Name, h.Encoding, int(h.Offset), h.Length})
	})
	sortFound(keyless)
	sortFound(keyed)
	if len(keyless) < planted {
		t.Errorf("keyless found %d matches, %d forms were planted", len(keyless), planted)
	}
	if fmt.Sprint(keyless) != fmt.Sprint(keyed) {
		t.Errorf("keyless and keyed differ:\nkeyless %v\nkeyed   %v", keyless, keyed)
	}
	if set.Values() != 2 {
		t.Errorf("Values() = %d, want 2", set.Values())
	}
}

func sortFound(f []found) {
	sort.Slice(f, func(i, j int) bool {
		if f[i].offset != f[j].offset {
			return f[i].offset < f[j].offset
		}
		return f[i].length < f[j].length
	})
}

// TestPrintHoldsNoForm: the stored print holds no form of the value, and
// the same value under two salts shares no prefilter-and-digest pair and
// no digest.
func TestPrintHoldsNoForm(t *testing.T) {
	t.Parallel()
	v := strong(t, 48)
	a, err := Make(salt(t), v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Make(salt(t), v)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		raw, _ := base64.RawStdEncoding.DecodeString(p)
		for _, f := range match.Forms(v) {
			for _, hay := range [][]byte{[]byte(p), raw} {
				if bytes.Contains(hay, f.Text[:match.MinLen]) {
					t.Fatalf("the print holds the start of the %s form", f.Encoding)
				}
			}
		}
	}
	ea, _ := parse(a)
	eb, _ := parse(b)
	seen := map[[ConfirmBytes]byte]bool{}
	for _, e := range ea {
		seen[e.confirm] = !e.wrapped
	}
	for _, e := range eb {
		if !e.wrapped && seen[e.confirm] {
			t.Fatal("two salts gave one confirming digest")
		}
	}
	plain := 0
	for _, f := range match.Forms(v) {
		if f.Encoding != wrappedEncoding {
			plain++
		}
	}
	for _, e := range ea {
		if !e.wrapped {
			plain--
		}
	}
	if plain != 0 {
		t.Errorf("the entries and the forms differ by %d", plain)
	}
}

func TestWeakValuesGetNoPrint(t *testing.T) {
	t.Parallel()
	s := salt(t)
	hex16 := fmt.Sprintf("%x", strong(t, 8)) // 16 hex digits: 64 bits
	for name, v := range map[string]string{
		"short":           string(strong(t, 15)),
		"words":           "Correct-Horse-Battery-Staple-2024!Summer",
		"repeated":        strings.Repeat(string(strong(t, 5)), 10),
		"hex 64 bits":     hex16 + hex16[:8],
		"strong start":    string(strong(t, 16)) + "password",
		"one letter long": strings.Repeat("a", 64),
	} {
		if _, err := Make(s, []byte(v)); !errors.Is(err, ErrWeak) {
			t.Errorf("%s: Make gave %v, want ErrWeak", name, err)
		}
	}
	for name, v := range map[string][]byte{
		"alnum 40": strong(t, 40),
		"hex 48":   []byte(fmt.Sprintf("%x", strong(t, 24))),
		"pem-ish":  []byte("-----BEGIN KEY-----\n" + string(strong(t, 64)) + "\n-----END KEY-----\n"),
	} {
		if _, err := Make(s, v); err != nil {
			t.Errorf("%s: %v (entropy after the window %.0f bits)", name, err, Entropy(v[Window:]))
		}
	}
}

func TestMalformedPrints(t *testing.T) {
	t.Parallel()
	s := salt(t)
	good, err := Make(s, strong(t, 40))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawStdEncoding.DecodeString(good)
	for name, p := range map[string]string{
		"not base64":    "!!",
		"empty":         "",
		"version 2":     base64.RawStdEncoding.EncodeToString(append([]byte{2}, raw[1:]...)),
		"truncated":     base64.RawStdEncoding.EncodeToString(raw[:len(raw)-1]),
		"unknown form":  base64.RawStdEncoding.EncodeToString([]byte{1, 200, 20, 0, 0, 0}),
		"only version":  base64.RawStdEncoding.EncodeToString([]byte{1}),
		"short pattern": base64.RawStdEncoding.EncodeToString(append([]byte{1, 0, 3}, make([]byte, 3+ConfirmBytes)...)),
	} {
		_, err := NewSet([]Bundle{{Path: "b.env", Salt: s, Prints: map[string]string{"K": p}}})
		if err == nil || !strings.HasPrefix(err.Error(), "b.env: key K: ") {
			t.Errorf("%s: NewSet gave %v", name, err)
		}
	}
}

// TestRollingMatchesDirect: the rolled hash at every offset is the hash
// of the window there.
func TestRollingMatchesDirect(t *testing.T) {
	t.Parallel()
	r := newRoller(salt(t))
	data := filler(t, 300)
	h := r.sum(data[:Window])
	for i := 0; i+Window < len(data); i++ {
		if h != r.sum(data[i:i+Window]) {
			t.Fatalf("offset %d: rolled hash differs", i)
		}
		h = r.roll(h, data[i], data[i+Window])
	}
}

func TestDigestNamesTheSet(t *testing.T) {
	t.Parallel()
	s := salt(t)
	p1, _ := Make(s, strong(t, 40))
	p2, _ := Make(s, strong(t, 40))
	d := func(m map[string]string) [32]byte {
		set, err := NewSet([]Bundle{{Path: "b.env", Salt: s, Prints: m}})
		if err != nil {
			t.Fatal(err)
		}
		return set.Digest()
	}
	one, again, other := d(map[string]string{"A": p1}), d(map[string]string{"A": p1}), d(map[string]string{"A": p2})
	if one == other || one != again {
		t.Error("the digest does not follow the prints")
	}
}

// BenchmarkMake reports the size of a print per value (bytes/value).
func BenchmarkMake(b *testing.B) {
	for _, n := range []int{40, 64, 1600} {
		b.Run(fmt.Sprintf("len%d", n), func(b *testing.B) {
			s, v := salt(b), strong(b, n)
			var p string
			for i := 0; i < b.N; i++ {
				var err error
				if p, err = Make(s, v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(p)), "bytes/value")
		})
	}
}

// BenchmarkSearch searches 8 MiB of random bytes for 100 values of 40
// characters: by fingerprint (keyless), and by form with the audit's
// matcher (keyed), side by side.
func BenchmarkSearch(b *testing.B) {
	s := salt(b)
	prints := map[string]string{}
	var values []match.Value
	for i := 0; i < 100; i++ {
		v := strong(b, 40)
		p, err := Make(s, v)
		if err != nil {
			b.Fatal(err)
		}
		prints[fmt.Sprintf("K%d", i)] = p
		values = append(values, match.Value{Name: fmt.Sprintf("K%d", i), Value: v})
	}
	set, err := NewSet([]Bundle{{Path: "b.env", Salt: s, Prints: prints}})
	if err != nil {
		b.Fatal(err)
	}
	data := filler(b, 8<<20)
	b.Run("keyless", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if len(set.Search(data)) != 0 {
				b.Fatal("a match in random bytes")
			}
		}
	})
	b.Run("keyed", func(b *testing.B) {
		sc := match.New(values, nil, nil).Scanner()
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			sc.Bytes(data, func(match.Hit) { b.Fatal("a match in random bytes") })
		}
	})
}

// BenchmarkSearchValues searches 8 MiB of text (lines of random
// characters) for 1, 100 and 10,000 values of 40 characters, and reports
// the set's memory per value (set-bytes/value) and the search's
// allocations, which stay flat: a search allocates only its hits.
func BenchmarkSearchValues(b *testing.B) {
	data := filler(b, 8<<20)
	for i := 80; i < len(data); i += 81 {
		data[i] = '\n' // text: wrapped windows are looked up too
	}
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("values%d", n), func(b *testing.B) {
			s := salt(b)
			prints := make(map[string]string, n)
			for len(prints) < n {
				p, err := Make(s, strong(b, 40))
				if errors.Is(err, ErrWeak) {
					continue // a random value the estimate finds weak: draw again
				}
				if err != nil {
					b.Fatal(err)
				}
				prints[fmt.Sprintf("K%d", len(prints))] = p
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			set, err := NewSet([]Bundle{{Path: "b.env", Salt: s, Prints: prints}})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if len(set.Search(data)) != 0 {
					b.Fatal("a match in random bytes")
				}
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "set-bytes/value")
			runtime.KeepAlive(set)
		})
	}
}

// TestBase32Entropy: random base32 values drawn now (a TOTP seed of 20
// bytes is 32 characters), upper or lower case, padded or not, count 5 bits
// a character when nothing in them reads like words, so most get
// fingerprints (the old estimate, which took every run of capitals for a
// word, gave almost none); passphrases of words in capitals, also with
// base32 digits between them, stay weak.
func TestBase32Entropy(t *testing.T) {
	t.Parallel()
	s := salt(t)
	printed, draws := 0, 300
	for i := 0; i < draws; i++ {
		b := make([]byte, 21)
		rand.Read(b)
		seed := base32.StdEncoding.EncodeToString(b[:20])
		if i%3 == 2 {
			seed = base32.StdEncoding.EncodeToString(b) // 34 characters and 6 '='
		}
		if i%2 == 1 {
			seed = strings.ToLower(seed)
		}
		if _, err := Make(s, []byte(seed)); err == nil {
			printed++
		} else if !errors.Is(err, ErrWeak) {
			t.Fatal(err)
		}
	}
	// About two in three: a seed whose letters happen to look like words
	// keeps the harsher estimate (erring low).
	if printed < draws*2/5 {
		t.Errorf("%d of %d random base32 seeds got a fingerprint, want 40%% or more", printed, draws)
	}
	t.Logf("%d of %d random base32 seeds got a fingerprint", printed, draws)
	words := strings.Fields("CORRECT HORSE BATTERY STAPLE SUMMER WINTER DRAGON MONKEY SHADOW MASTER LETMEIN SUNSHINE PRINCESS FOOTBALL BASEBALL WELCOME STRENGTH RHYTHM CRYPT SPRINGS")
	for i := 0; i < 200; i++ {
		var p strings.Builder
		for p.Len() < 34 { // under 80 bits by the word estimate: only the base32 reading could lift it
			k := make([]byte, 2)
			rand.Read(k)
			p.WriteString(words[int(k[0])%len(words)])
			if i%2 == 0 {
				p.WriteByte("234567"[int(k[1])%6])
			}
		}
		v := []byte(p.String())
		if i%4 == 1 {
			v = bytes.ToLower(v)
		}
		if !Weak(v) {
			t.Fatalf("a passphrase of words in capitals is not weak (estimate %.0f bits after the window)", Entropy(v[Window:]))
		}
	}
}
