package audit

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// The xz, bzip2, zstd and LZMA decoders give back exactly what the real
// tool compressed, in every stream shape those tools write: each xz check
// type, concatenated streams (what `cat a.xz b.xz`, pbzip2 and `zstd`
// on many files make, and what `xz -dc`, `bzip2 -dc` and `zstd -dc`
// decode whole), and a damaged or cut stream fails with an error, within
// seconds, never a silent short result. Any other library that is put in
// their place must keep this.
func TestDecoderStreams(t *testing.T) {
	t.Parallel()
	one, two := text(200<<10, 11), text(150<<10, 12)
	both := append(append([]byte(nil), one...), two...)
	big := text(2<<20, 13) // three blocks at xz -T2 -0
	tool := func(in []byte, name string, args ...string) []byte {
		return runTool(t, "", in, nil, name, args...)
	}
	cat := func(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }
	cases := []struct {
		name   string
		format int
		data   []byte
		want   []byte
		check  bool // an integrity check covers the data: damage is an error
	}{
		{"xz", fmtXz, tool(one, "xz", "-c"), one, true},
		{"xz --check=none", fmtXz, tool(one, "xz", "-c", "--check=none"), one, false},
		{"xz --check=crc32", fmtXz, tool(one, "xz", "-c", "--check=crc32"), one, true},
		{"xz --check=sha256", fmtXz, tool(one, "xz", "-c", "--check=sha256"), one, true},
		{"xz -9e", fmtXz, tool(one, "xz", "-c", "-9e"), one, true},
		{"xz blocks", fmtXz, tool(both, "xz", "-c", "--block-size=64KiB"), both, true},
		{"two xz streams", fmtXz, cat(tool(one, "xz", "-c"), tool(two, "xz", "-c", "--check=crc32")), both, true},
		{"two xz streams, padded", fmtXz, cat(append(tool(one, "xz", "-c"), 0, 0, 0, 0), tool(two, "xz", "-c")), both, true},
		{"xz -T2", fmtXz, tool(big, "xz", "-c", "-T2", "-0"), big, true},
		{"two xz streams of blocks, padded", fmtXz, cat(append(tool(one, "xz", "-c", "--block-size=64KiB", "--check=sha256"), 0, 0, 0, 0, 0, 0, 0, 0), tool(two, "xz", "-c", "-T2", "--block-size=32KiB", "--check=none")), both, true},
		{"lzma", fmtLzma, tool(one, "xz", "--format=lzma", "-c"), one, false},
		{"bzip2 -1", fmtBzip2, tool(both, "bzip2", "-1", "-c"), both, true},
		{"bzip2 -9", fmtBzip2, tool(one, "bzip2", "-9", "-c"), one, true},
		{"two bzip2 streams", fmtBzip2, cat(tool(one, "bzip2", "-c"), tool(two, "bzip2", "-1", "-c")), both, true},
		{"zstd", fmtZstd, tool(one, "zstd", "-q", "-c"), one, true},
		{"zstd -19 --long", fmtZstd, tool(one, "zstd", "-q", "-c", "-19", "--long=24"), one, true},
		{"two zstd frames", fmtZstd, cat(tool(one, "zstd", "-q", "-c"), tool(two, "zstd", "-q", "-c", "--no-check")), both, true},
	}
	lim := &limits{window: defaultMaxWindow}
	// A filter the xz decoder does not have (the x86 branch filter) is an
	// error, never a short or raw result.
	x86 := tool(one, "xz", "-c", "--x86", "--lzma2")
	t.Run("xz --x86", func(t *testing.T) {
		t.Parallel()
		if got, err := decodeAll(t, fmtXz, x86, lim); err == nil {
			t.Fatalf("decoded %d bytes of a stream it has no filter for, without an error", len(got))
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeAll(t, c.format, c.data, lim)
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("decoded %d bytes of %d (equal %v): %v", len(got), len(c.want), bytes.Equal(got, c.want), err)
			}
			if c.format == fmtXz && !bytes.Equal(got, tool(c.data, "xz", "-dc")) {
				t.Fatalf("decoded otherwise than xz -dc")
			}
			if _, err := decodeAll(t, c.format, c.data[:len(c.data)/2], lim); err == nil {
				t.Errorf("a stream cut in half decoded without an error")
			}
			if !c.check {
				return
			}
			damaged := append([]byte(nil), c.data...)
			for i := len(damaged) / 3; i < len(damaged)/3+4; i++ {
				damaged[i] ^= 0x55
			}
			if got, err := decodeAll(t, c.format, damaged, lim); err == nil {
				t.Errorf("a damaged stream decoded without an error (%d bytes, equal %v)", len(got), bytes.Equal(got, c.want))
			}
		})
	}
}

// decodeAll decodes data as the audit opens a compressed file, and fails
// the test when the decoder neither ends nor fails within a minute (a
// hang on damaged input).
func decodeAll(t *testing.T, format int, data []byte, lim *limits) ([]byte, error) {
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := decompressor(format, bytes.NewReader(data), lim)
		if err != nil {
			done <- result{nil, err}
			return
		}
		out, err := io.ReadAll(r)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && strings.TrimSpace(r.err.Error()) == "" {
			t.Errorf("an error without a reason")
		}
		return r.out, r.err
	case <-time.After(time.Minute):
		t.Fatalf("the decoder neither ended nor failed within a minute")
		return nil, nil
	}
}
