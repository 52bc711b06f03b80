package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/internal/match"
)

func defaultDetectors(values []Value) *detectors {
	o := (&Options{Values: values}).defaults()
	return o.detectors()
}

func collect(d *detectors, data []byte, stream bool) []match.Hit {
	var out []match.Hit
	sc := d.scanner()
	if stream {
		hs, _ := scanStream(sc, iotest.HalfReader(bytes.NewReader(data)))
		out = hs
	} else {
		sc.Bytes(data, func(h match.Hit) { out = append(out, h) })
	}
	return out
}

// Every encoding of a value is found at every alignment, whatever comes
// before and after it.
func TestKnownValueEncodings(t *testing.T) {
	t.Parallel()
	for n := MinValueLen; n <= 40; n += 3 {
		v := []byte(randString(t, alnum+"+/=?&%\"\\ é", n))
		d := defaultDetectors([]Value{{Name: "V", Value: v}})
		for pre := 0; pre < 3; pre++ {
			prefix := make([]byte, pre)
			rand.Read(prefix)
			for enc, form := range map[string]string{
				"raw":       string(v),
				"hex":       hex.EncodeToString(v),
				"base64":    base64.StdEncoding.EncodeToString(append(prefix, v...)),
				"base64url": base64.URLEncoding.EncodeToString(append(prefix, v...)),
			} {
				data := []byte("<<" + form + ">>")
				hs := collect(d, data, false)
				if len(hs) == 0 || hs[0].Name != "V" {
					t.Fatalf("len %d prefix %d: %s form not found", n, pre, enc)
				}
			}
		}
	}
}

func TestShortValuesSkipped(t *testing.T) {
	t.Parallel()
	d := defaultDetectors([]Value{{Name: "S", Value: []byte("1234567")}, {Name: "L", Value: []byte("12345678")}})
	if s := d.m.Short(); len(s) != 1 || s[0] != 0 {
		t.Fatal(s)
	}
	if hs := collect(d, []byte("a 12345678 b"), false); len(hs) != 1 || hs[0].Name != "L" {
		t.Fatal(hs)
	}
}

// A read error in the middle of a file is an error, never a clean end.
func TestScanReadError(t *testing.T) {
	t.Parallel()
	sc := defaultDetectors(nil).scanner()
	r := io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := scanStream(sc, r); err == nil {
		t.Fatal("no error")
	}
}

// corpus returns up to n bytes of real text and binaries from the Go
// toolchain, the data the benchmarks scan.
func corpus(b testing.TB, n int) []byte {
	var out []byte
	root := goroot(b)
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || len(out) >= n {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err == nil {
				out = append(out, data...)
			}
		}
		return nil
	})
	if len(out) < n/2 {
		b.Skip("no Go toolchain tree to read")
	}
	return out[:min(n, len(out))]
}

func benchValues(b testing.TB, n int) []Value {
	var vs []Value
	for i := 0; i < n; i++ {
		vs = append(vs, Value{Name: "V" + strconv.Itoa(i), Value: []byte(randString(b, alnum, 12+i%30))})
	}
	return vs
}

// BenchmarkScan measures the detectors alone, every one on: 100 sealed
// values in every encoding and the default rules.
func BenchmarkScan(b *testing.B) {
	data := corpus(b, 64<<20)
	d := defaultDetectors(benchValues(b, 100))
	sc := d.scanner()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		scanStream(sc, bytes.NewReader(data))
	}
}

// BenchmarkLayer measures an uncompressed layer end to end: tar parsing,
// nested archive sniffing and every detector.
func BenchmarkLayer(b *testing.B) {
	var files []file
	root := goroot(b)
	total := 0
	filepath.Walk(filepath.Join(root, "src"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || total > 64<<20 {
			return filepath.SkipDir
		}
		// testdata holds a 2.5 KB tar whose sparse entry reads as 512 MB
		// of zeros: real, but not what a throughput figure should measure.
		if fi.IsDir() && fi.Name() == "testdata" {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			files = append(files, file{strings.TrimPrefix(p, root+"/"), data})
			total += len(data)
		}
		return nil
	})
	tb := tarBytes(b, files...)
	d := defaultDetectors(benchValues(b, 100))
	w := newWalker(d, testLimits(8))
	b.SetBytes(int64(len(tb)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.layer(context.Background(), bytes.NewReader(tb), v1.Hash{}); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = rules.High

// scanStream searches r to its end as one stream, as a layer is searched.
func scanStream(sc *match.Scanner, r io.Reader) ([]match.Hit, error) {
	s := stream{sc: sc}
	s.reset(r, "", partData)
	err := s.drain(make([]byte, 64<<10))
	var out []match.Hit
	for _, h := range s.finish() {
		out = append(out, h.Hit)
	}
	return out, err
}
