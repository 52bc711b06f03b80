package audit

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/audit/internal/decode"
)

// text is n bytes of varied text: words drawn at random, so that
// compressors grow their tables and, for compress(1), clear them.
func text(n int, seed int64) []byte {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "\n", "0123", "zz", "quux"}
	rng := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.Intn(len(words))])
		if rng.Intn(7) == 0 {
			fmt.Fprintf(&b, "%x", rng.Int63())
		}
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

// withSecrets is text with both secrets in the middle of it.
func withSecrets(p secretPair, n int) []byte {
	t := text(n, 1)
	return append(append(append([]byte(nil), t[:n/2]...), p.env()...), t[n/2:]...)
}

// Each compressor the audit decodes, with the output of the real tool: a
// file holding both secrets is found decoded, at its path; its clean
// twin is clean.
func TestCompressorsRealTools(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	for _, c := range []struct {
		name, tool string
		args       []string
		full       bool // a second setting of a tool: not run with -short
	}{
		{"app.js.br", "brotli", []string{"-c"}, false},
		{"app.js.br", "brotli", []string{"-c", "-q", "11", "--lgwin=24"}, true},
		{"data.lzma", "xz", []string{"--format=lzma", "-c"}, false},
		{"data.bin", "xz", []string{"--format=lzma", "-c"}, false}, // told by content: xz writes an unknown size
		{"notes.txt.Z", "compress", []string{"-c"}, false},
		{"notes.txt.Z", "compress", []string{"-c", "-b", "12"}, true},
		{"log.zst", "zstd", []string{"--long=27", "-c", "-q"}, false},
		{"app.log.lz4", "lz4", []string{"-c", "-q"}, false},
		{"app.log.lz4", "lz4", []string{"-c", "-q", "-BD", "-BX", "-B4", "--content-size"}, true},
		{"initrd.img", "lz4", []string{"-c", "-q", "-l"}, false}, // the kernel's legacy format
		{"cache.bin", "python3", []string{"-c", "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 9))"}, false},
		{"cache.bin", "node", []string{"-e", "process.stdout.write(require('zlib').deflateSync(require('fs').readFileSync(0)))"}, true},
	} {
		if c.full && testing.Short() {
			continue
		}
		t.Run(c.tool+" "+fmt.Sprint(c.args)+" "+c.name, func(t *testing.T) {
			t.Parallel()
			dirty := runTool(t, "", withSecrets(p, 300<<10), nil, c.tool, c.args...)
			p.wantBoth(t, auditFiles(t, p.opts, file{"srv/" + c.name, dirty}), "srv/"+c.name)
			clean := runTool(t, "", text(300<<10, 2), nil, c.tool, c.args...)
			wantClean(t, auditFiles(t, p.opts, file{"srv/" + c.name, clean}))
		})
	}
}

// The LZ4 decoder gives back exactly what lz4 compressed, in every block
// mode, size and format.
func TestLZ4Exact(t *testing.T) {
	t.Parallel()
	in := text(9<<20, 14)
	for _, args := range [][]string{{"-c", "-q"}, {"-c", "-q", "-BD"}, {"-c", "-q", "-B4", "-BD", "-BX", "--content-size"}, {"-c", "-q", "-B7", "-9"}, {"-c", "-q", "-l"}} {
		z := runTool(t, "", in, nil, "lz4", args...)
		r, err := decode.NewLZ4Reader(bytes.NewReader(append(z, z...))) // two frames in a row
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(out, append(in, in...)) {
			t.Fatalf("lz4 %v: decoded %d of %d bytes, equal %v: %v", args, len(out), 2*len(in), bytes.Equal(out, append(in, in...)), err)
		}
	}
}

// The LZW decoder gives back exactly what compress(1) read, for every
// code width, in block mode (CLEAR codes, a table that fills and grows
// its codes from 9 to 16 bits) and without; where compress -d itself
// cannot read its own output back (-b 9 and -C on large inputs, in
// ncompress 4.2.4), the decoder fails too, so the audit is incomplete
// rather than wrong.
func TestLZWExact(t *testing.T) {
	t.Parallel()
	in := text(3<<20, 3)
	// Past two megabytes, make the text change so that the ratio drops
	// and compress clears its table.
	copy(in[2<<20:], bytes.Repeat([]byte{0xfe, 0x01, 0x77}, 100000))
	dir := t.TempDir()
	for _, size := range []int{4 << 10, len(in)} {
		for bits := 9; bits <= 16; bits++ {
			for _, mode := range [][]string{nil, {"-C"}} {
				args := append([]string{"-c", "-b", fmt.Sprint(bits)}, mode...)
				z := runTool(t, "", in[:size], nil, "compress", args...)
				os.WriteFile(filepath.Join(dir, "x.Z"), z, 0o644)
				want, oracle := exec.Command(peer(t, "compress"), "-d", "-c", filepath.Join(dir, "x.Z")).Output()
				r, err := decode.NewLZWReader(bytes.NewReader(z))
				if err != nil {
					t.Fatal(err)
				}
				out, err := io.ReadAll(r)
				switch {
				case oracle != nil && err == nil:
					t.Fatalf("compress %v of %d bytes: compress -d fails (%v), the decoder does not", args, size, oracle)
				case oracle == nil && (err != nil || !bytes.Equal(out, want) || !bytes.Equal(out, in[:size])):
					t.Fatalf("compress %v of %d bytes: decoded %d bytes, equal %v: %v", args, size, len(out), bytes.Equal(out, in[:size]), err)
				}
			}
		}
	}
}

// A file named .br that is not brotli, and a file that starts like a
// gzip header but is not one, are told apart: the first must decode (it
// has no magic number to go by) and is incomplete; the second has a
// reserved flag set, is no gzip, and is clean.
func TestNamedAndFalseMagic(t *testing.T) {
	t.Parallel()
	junk := text(4096, 4)
	wantIncomplete(t, auditFiles(t, Options{}, file{"www/app.css.br", junk}), "app.css.br: brotli")
	fake := append([]byte{0x1f, 0x8b, 0x08, 0xe0, 0, 0, 0, 0, 0, 3}, junk...)
	wantClean(t, auditFiles(t, Options{}, file{"data/blob.bin", fake}))
	// A real gzip header followed by garbage must decode: incomplete.
	bad := append([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3}, junk...)
	wantIncomplete(t, auditFiles(t, Options{}, file{"data/blob.bin", bad}), "data/blob.bin: gzip")
}

// Long windows: a zstd frame written with --long=31 (a 2 GiB window) is
// beyond the default window limit: incomplete, naming the file and the
// limit; with MaxWindow raised it is decoded and the secrets are found.
// brotli's large-window streams the same.
func TestLongWindows(t *testing.T) {
	p := plantSecrets(t)
	body := withSecrets(p, 1<<20)
	zst := runTool(t, "", body, nil, "zstd", "--long=31", "-c", "-q") // from a pipe: the window stays 2 GiB
	if w := decode.ZstdWindow(zst); w != 1<<31 {
		t.Fatalf("zstd wrote a window of %d bytes, the test wants 2 GiB", w)
	}
	br := runTool(t, "", body, nil, "brotli", "--large_window=30", "-c")
	for _, c := range []struct {
		name string
		data []byte
		need int64
	}{{"big.log.zst", zst, 1 << 31}, {"big.log.br", br, 1 << 30}} {
		r := auditFiles(t, p.opts, file{c.name, c.data})
		wantIncomplete(t, r, c.name+": ")
		wantIncomplete(t, r, "beyond the window limit of 128 MiB")
		o := p.opts
		o.MaxWindow = c.need
		p.wantBoth(t, auditFiles(t, o, file{c.name, c.data}), c.name)
	}
}

// Bombs stop at their bound, with exit 2, before the decoder allocates
// what the header asks for: an LZMA header asking for a 2 GiB
// dictionary, a brotli stream asking for a 1 GiB window. A compress(1)
// bomb needs no bound: its decoder's memory is fixed.
func TestCompressionBombs(t *testing.T) {
	lz := runTool(t, "", text(1<<16, 5), nil, "xz", "--format=lzma", "-c")
	binary.LittleEndian.PutUint32(lz[1:], 1<<31)
	br := runTool(t, "", bytes.Repeat([]byte{0}, 1<<20), nil, "brotli", "--large_window=30", "-c")
	// An xz stream whose block header asks for a 1.5 GiB dictionary, the
	// header padded to its largest size (1 KiB) so that the dictionary
	// field is far from the stream's start; the same as a zip entry
	// (method 95), which reaches the xz decoder by another path.
	xzPlain := text(1<<16, 6)
	xzBomb := xzBigDict(t, runTool(t, "", xzPlain, nil, "xz", "-c"))
	for _, c := range []struct {
		name string
		data []byte
		at   string // where the reason says the bomb is
	}{
		{"bomb.lzma", lz, "bomb.lzma: "},
		{"bomb.br", br, "bomb.br: "},
		{"bomb.xz", xzBomb, "bomb.xz: "},
		{"bomb.zip", zipRaw(t, "a.txt", 95, xzBomb, xzPlain), "bomb.zip!/a.txt: "},
	} {
		wantRefused(t, c.name, c.data, c.at, "the window limit")
	}
	// 256 MiB of zeros through compress(1): decoded within a fixed few MiB.
	dir := t.TempDir()
	zeros := filepath.Join(dir, "zeros")
	f, _ := os.Create(zeros)
	f.Truncate(256 << 20)
	f.Close()
	z := runTool(t, dir, nil, nil, "compress", "-c", "zeros")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := auditFiles(t, Options{}, file{"zeros.Z", z})
	runtime.ReadMemStats(&after)
	wantClean(t, r)
	if r.Coverage.Bytes < 256<<20 {
		t.Fatalf("searched %d bytes of a 256 MiB file", r.Coverage.Bytes)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("a compress(1) bomb allocated %d MiB", grew>>20)
	}
}

// xzBigDict rewrites the first block header of the xz stream x (one
// LZMA2 filter, as xz writes) to ask for a 1.5 GiB dictionary, padded to
// the largest header there is, its CRC-32 made right.
func xzBigDict(t *testing.T, x []byte) []byte {
	t.Helper()
	if len(x) < 13 || string(x[:6]) != "\xfd7zXZ\x00" {
		t.Fatal("not an xz stream")
	}
	old := (int(x[12]) + 1) * 4
	h := make([]byte, 1024)
	h[0] = 255
	copy(h[1:], []byte{0x00, 0x21, 0x01, 37}) // one filter: LZMA2, dictionary 3<<29
	binary.LittleEndian.PutUint32(h[1020:], crc32.ChecksumIEEE(h[:1020]))
	return append(append(append([]byte(nil), x[:12]...), h...), x[12+old:]...)
}

// Every block of an xz stream is checked against the window limit, not
// only the first: a stream whose second block asks for a 1.5 GiB
// dictionary, and a second stream (after stream padding) whose first
// block does, are incomplete naming the limit, as a layer's file and as a
// zip entry, and nothing near the dictionary is allocated to refuse them.
func TestXzEveryBlockBounded(t *testing.T) {
	plain := text(200<<10, 21)
	blocks := runTool(t, "", plain, nil, "xz", "-c", "--block-size=64KiB")
	second := xzPatchBlock(t, blocks, 1, 37) // 3 << 29
	concat := append(append(append([]byte(nil), runTool(t, "", plain, nil, "xz", "-c")...), 0, 0, 0, 0), xzBigDict(t, blocks)...)
	for _, c := range []struct {
		name string
		data []byte
		at   string
	}{
		{"second.xz", second, "second.xz: "},
		{"concat.xz", concat, "concat.xz: "},
		{"second.zip", zipRaw(t, "a.txt", 95, second, plain), "second.zip!/a.txt "},
	} {
		wantRefused(t, c.name, c.data, c.at, "needs a window of 1536 MiB, beyond the window limit of 128 MiB")
	}
	// The same with the stream left as xz wrote it decodes whole.
	lim := &limits{window: defaultMaxWindow}
	if got, err := decodeAll(t, fmtXz, blocks, lim); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the unpatched stream: %d bytes, %v", len(got), err)
	}
	// The decoder keeps a record per block of a stream until its index:
	// more blocks than the window allows for is refused too.
	many := runTool(t, "", text(80<<10, 22), nil, "xz", "-c", "-0", "--block-size=16")
	if _, err := decodeAll(t, fmtXz, many, &limits{window: 256 << 10}); err == nil || !strings.Contains(err.Error(), "the index of more than 4096 blocks in one stream, beyond the window limit of 256 KiB") {
		t.Fatalf("a stream of 5120 blocks within 256 KiB: %v", err)
	}
}

// xzPatchBlock rewrites the LZMA2 dictionary property of block k of the
// xz stream x (found through the stream's index) to prop, its header's
// CRC-32 made right.
func xzPatchBlock(t *testing.T, x []byte, k int, prop byte) []byte {
	t.Helper()
	x = append([]byte(nil), x...)
	varint := func(b []byte, i int) (uint64, int) {
		var v uint64
		for s := 0; ; s += 7 {
			v |= uint64(b[i]&0x7f) << s
			i++
			if b[i-1]&0x80 == 0 {
				return v, i
			}
		}
	}
	foot := x[len(x)-12:]
	index := len(x) - 12 - int(binary.LittleEndian.Uint32(foot[4:])+1)*4
	n, i := varint(x, index+1)
	if int(n) <= k {
		t.Fatalf("the stream has %d blocks", n)
	}
	at := 12
	for range k {
		var unpadded uint64
		unpadded, i = varint(x, i)
		_, i = varint(x, i)
		at += int(unpadded+3) &^ 3 // the header, data and check, padded
	}
	h := x[at : at+(int(x[at])+1)*4]
	flags := h[1]
	j := 2
	if flags&0x40 != 0 {
		_, j = varint(h, j)
	}
	if flags&0x80 != 0 {
		_, j = varint(h, j)
	}
	if h[j] != 0x21 || h[j+1] != 1 {
		t.Fatalf("block %d: not one LZMA2 filter", k)
	}
	h[j+2] = prop
	binary.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
	return x
}

// zipRaw is a zip of one entry whose data is stored as data, marked with
// the compression method method, that decodes to plain.
func zipRaw(t *testing.T, name string, method uint16, data, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: method, CompressedSize64: uint64(len(data)),
		UncompressedSize64: uint64(len(plain)), CRC32: crc32.ChecksumIEEE(plain)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// A zip entry compressed with xz (method 95, as 7-Zip and Info-ZIP with
// xz write it) is decoded: its secrets are found at the entry's path,
// with the stream's header read before the decoder for its dictionary.
func TestZipXzEntry(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	for _, args := range [][]string{{"-c"}, {"-c", "-9e", "--check=sha256"}, {"-c", "--block-size=16KiB"}} {
		plain := withSecrets(p, 100<<10)
		z := zipRaw(t, "conf/app.env", 95, runTool(t, "", plain, nil, "xz", args...), plain)
		p.wantBoth(t, auditFiles(t, p.opts, file{"lib/app.zip", z}), "lib/app.zip!/conf/app.env")
	}
	// Written to a pipe, its size only in the data descriptor after it:
	// where the xz stream ends is not known, and the audit says so.
	plain := withSecrets(p, 10<<10)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "conf/app.env", Method: 95, Flags: 0x8})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(runTool(t, "", plain, nil, "xz", "-c"))
	zw.Close()
	wantIncomplete(t, auditFiles(t, p.opts, file{"lib/piped.zip", out.Bytes()}), "lib/piped.zip!/conf/app.env: zip entry: an xz entry whose size is only in the data descriptor")
}

// wantRefused audits the file name holding data: incomplete at at for
// reason, with at most 256 MiB allocated to find that out.
func wantRefused(t *testing.T, name string, data []byte, at, reason string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := auditFiles(t, Options{}, file{name, data})
	runtime.ReadMemStats(&after)
	wantIncomplete(t, r, at)
	wantIncomplete(t, r, reason)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("%s: %d MiB allocated to refuse it", name, grew>>20)
	}
}
