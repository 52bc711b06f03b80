package decode

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// xzTool runs the real xz on in with args.
func xzTool(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("xz", args...)
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("xz %v: %v: %s", args, err, stderr.String())
	}
	return out.Bytes()
}

// words is n bytes of text drawn at random from a few words: it
// compresses, so that streams hold LZMA chunks as well as stored ones.
func words(n int, seed int64) []byte {
	w := []string{"alpha ", "bravo ", "charlie\n", "delta ", "echo ", "0123 ", "zz"}
	rng := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(w[rng.Intn(len(w))])
	}
	return b.Bytes()[:n]
}

// xzShapes are the stream shapes the real xz writes, made at test time:
// one block, many blocks, blocks from two threads (sizes in the headers),
// each check type, a stream of nothing, incompressible data (stored
// chunks), and streams concatenated with stream padding.
func xzShapes(t testing.TB, n int) map[string][]byte {
	one, two := words(n, 1), words(n/2, 2)
	noise := make([]byte, n/4)
	rand.New(rand.NewSource(3)).Read(noise)
	shapes := map[string][]byte{
		"xz":                xzTool(t, one, "-c"),
		"blocks":            xzTool(t, one, "-c", "--block-size=4KiB"),
		"-T2":               xzTool(t, one, "-c", "-T2", "--block-size=8KiB"),
		"--check=none":      xzTool(t, two, "-c", "--check=none", "--block-size=3KiB"),
		"--check=crc32":     xzTool(t, two, "-c", "--check=crc32"),
		"--check=sha256":    xzTool(t, two, "-c", "--check=sha256", "-9e"),
		"empty":             xzTool(t, nil, "-c"),
		"incompressible":    xzTool(t, noise, "-c", "-0"),
		"-0 with the index": xzTool(t, one, "-c", "-0", "--block-size=512"),
	}
	cat := append([]byte(nil), shapes["blocks"]...)
	cat = append(cat, 0, 0, 0, 0, 0, 0, 0, 0)
	cat = append(cat, shapes["-T2"]...)
	cat = append(cat, 0, 0, 0, 0)
	shapes["concatenated, padded"] = append(cat, shapes["--check=sha256"]...)
	return shapes
}

// xzPatch returns data with the block header at byte at asking for the
// LZMA2 dictionary property prop, its CRC-32 made right (a header as xz
// writes it without -T: one LZMA2 filter, no size fields).
func xzPatch(t testing.TB, data []byte, at int64, prop byte) []byte {
	t.Helper()
	d := append([]byte(nil), data...)
	h := d[at : at+(int64(d[at])+1)*4]
	if h[1] != 0 || h[2] != 0x21 || h[3] != 1 {
		t.Fatalf("the block header at byte %d is not a lone LZMA2 filter without sizes", at)
	}
	h[4] = prop
	binary.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
	return d
}

// readXz reads data through the structure reader with the window limit,
// and returns what it passed on and every block header it checked.
func readXz(data []byte, window int64) ([]byte, []int64, error) {
	var blocks []int64
	x := newXzReader(bytes.NewReader(data), window).(*xzReader)
	x.onBlock = func(at, dict int64) {
		if dict > window {
			panic("a block passed whose dictionary is over the window")
		}
		blocks = append(blocks, at)
	}
	out, err := io.ReadAll(x)
	return out, blocks, err
}

// Every shape xz writes passes through unchanged, and decodes through
// the structure reader as xz -dc decodes it; below each stream's
// dictionary, no byte of the first block is passed on.
func TestXzReaderShapes(t *testing.T) {
	t.Parallel()
	for name, data := range xzShapes(t, 64<<10) {
		out, blocks, err := readXz(data, 64<<20)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%s: passed on %d of %d bytes: %v", name, len(out), len(data), err)
		}
		if name != "empty" && len(blocks) == 0 {
			t.Fatalf("%s: no block checked", name)
		}
		dec, err := xz.NewReader(newXzReader(bytes.NewReader(data), 64<<20))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(dec)
		if want := xzTool(t, data, "-dc"); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: decoded %d bytes of %d: %v", name, len(got), len(want), err)
		}
		if name == "empty" {
			continue
		}
		// xz -6 asks for 8 MiB, -9e for 64 MiB, -0 for 256 KiB.
		out, _, err = readXz(data, 4<<10)
		var le *XzLimitError
		if !errors.As(err, &le) || le.Dict <= 4<<10 || le.Offset != 12 {
			t.Fatalf("%s under a 4 KiB window: %v", name, err)
		}
		if len(out) != 12 {
			t.Fatalf("%s under a 4 KiB window: %d bytes passed on, want the stream header alone", name, len(out))
		}
	}
}

// A stream cut anywhere is an error, and what was passed on is a prefix of
// it: never io.EOF before the stream's end.
func TestXzReaderCut(t *testing.T) {
	t.Parallel()
	data := xzShapes(t, 8<<10)["concatenated, padded"]
	ends := 0
	for i := range len(data) {
		out, _, err := readXz(data[:i], 64<<20)
		if !bytes.HasPrefix(data, out) {
			t.Fatalf("cut at %d: passed on bytes that are not the input's", i)
		}
		// Cut inside stream padding at a multiple of four bytes is a valid
		// end: the streams before it are whole.
		if err == nil && !bytes.Equal(out, data[:i]) {
			t.Fatalf("cut at %d: %d bytes passed on without an error", i, len(out))
		}
		if err == nil {
			ends++
		}
	}
	// After the first stream (and its 0, 4 and 8 bytes of padding), after
	// the second (and its 4).
	if ends != 5 {
		t.Fatalf("%d cuts passed without an error, want 5", ends)
	}
	if _, _, err := readXz(data[:len(data)-1], 64<<20); err == nil {
		t.Fatal("a stream cut by one byte passed")
	}
}

// What the reader cannot follow is an error, named with where it is: a
// filter chain the decoder does not have, reserved bits, padding that is
// not zero or not a multiple of four bytes, damaged header checksums.
func TestXzReaderRefuses(t *testing.T) {
	t.Parallel()
	plain := words(32<<10, 4)
	x86 := xzTool(t, plain, "-c", "--x86", "--lzma2")
	good := xzTool(t, plain, "-c", "--block-size=8KiB")
	hdr := func(mod func(h []byte)) []byte {
		d := append([]byte(nil), good...)
		h := d[12 : 12+(int(d[12])+1)*4]
		mod(h)
		binary.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
		return d
	}
	flip := func(i int) []byte {
		d := append([]byte(nil), good...)
		d[i] ^= 1
		return d
	}
	for name, data := range map[string][]byte{
		"x86 filter":            x86,
		"reserved block flag":   hdr(func(h []byte) { h[1] |= 0x10 }),
		"header padding":        hdr(func(h []byte) { h[len(h)-5] = 1 }),
		"dictionary code 41":    hdr(func(h []byte) { h[4] = 41 }),
		"stream header CRC":     flip(9),
		"block header CRC":      flip(14),
		"stream padding of 3":   append(append([]byte(nil), good...), 0, 0, 0),
		"garbage after":         append(append([]byte(nil), good...), 'x', 'y', 'z', 'w'),
		"footer magic":          flip(len(good) - 1),
		"not xz":                []byte("plain text, not an xz stream at all"),
		"invalid chunk control": hdr(func(h []byte) {}),
	} {
		if name == "invalid chunk control" {
			data[12+(int(data[12])+1)*4] = 0x03
		}
		out, _, err := readXz(data, 64<<20)
		if err == nil {
			t.Errorf("%s: passed %d bytes without an error", name, len(out))
			continue
		}
		if !bytes.HasPrefix(data, out) {
			t.Errorf("%s: passed on bytes that are not the input's", name)
		}
	}
}

// A block past the first, and the first block of a later stream, are
// checked as the first is: patched to ask for 1.5 GiB, the reader stops
// before the block, and nothing of that size is allocated.
func TestXzReaderLaterBlocks(t *testing.T) {
	plain := words(64<<10, 5)
	data := xzTool(t, plain, "-c", "--block-size=16KiB")
	_, blocks, err := readXz(data, 64<<20)
	if err != nil || len(blocks) < 3 {
		t.Fatalf("%d blocks: %v", len(blocks), err)
	}
	second := xzPatch(t, data, blocks[1], 37) // 3 << 29
	later := append(append(append([]byte(nil), data...), 0, 0, 0, 0), second...)
	for name, c := range map[string]struct {
		data []byte
		at   int64
	}{"second block": {second, blocks[1]}, "second stream": {later, int64(len(data)+4) + blocks[1]}} {
		if out, _, err := readXz(c.data, 128<<20); err == nil || int64(len(out)) != c.at {
			t.Fatalf("%s: passed on %d bytes, want %d (up to the block): %v", name, len(out), c.at, err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		dec, err := xz.NewReader(newXzReader(bytes.NewReader(c.data), 128<<20))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, dec)
		runtime.ReadMemStats(&after)
		var le *XzLimitError
		if !errors.As(err, &le) || le.Dict != 3<<29 || le.Offset != c.at {
			t.Fatalf("%s: %v, want a 1.5 GiB dictionary at byte %d", name, err, c.at)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 128<<20 {
			t.Errorf("%s: %d MiB allocated to refuse it", name, grew>>20)
		}
	}
}

// FuzzXzStructure feeds changed real streams to the structure reader: it
// never panics, passes on only a prefix of its input, passes all of it
// only without an error, and never passes a block whose dictionary it did
// not check against the window (the decoder, reading what was passed on,
// allocates nothing near a dictionary over it).
func FuzzXzStructure(f *testing.F) {
	for _, data := range xzShapes(f, 2<<10) {
		f.Add(data)
	}
	// Streams within the window, and the same with a later block or a
	// later stream asking for 1 MiB.
	small := words(8<<10, 6)
	for _, args := range [][]string{{"-c", "--block-size=1KiB", "--lzma2=dict=16KiB"}, {"-c", "-T2", "--block-size=2KiB", "--lzma2=dict=32KiB", "--check=crc32"}} {
		data := xzTool(f, small, args...)
		f.Add(data)
		f.Add(append(append([]byte(nil), data...), 0, 0, 0, 0))
		if args[1] != "-T2" {
			_, blocks, _ := readXz(data, 64<<10)
			f.Add(xzPatch(f, data, blocks[1], 16))
			f.Add(append(append(append([]byte(nil), data...), 0, 0, 0, 0), xzPatch(f, data, 12, 16)...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		const window = 64 << 10
		type result struct {
			out    []byte
			blocks []int64
			err    error
		}
		done := make(chan result, 1)
		go func() {
			out, blocks, err := readXz(data, window)
			done <- result{out, blocks, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the reader neither ended nor failed within 10 s")
		}
		out, blocks, err := r.out, r.blocks, r.err
		if !bytes.HasPrefix(data, out) {
			t.Fatalf("passed on bytes that are not the input's")
		}
		if err == nil && len(out) != len(data) {
			t.Fatalf("passed %d of %d bytes without an error", len(out), len(data))
		}
		for i, at := range blocks {
			if at >= int64(len(out)) || (i > 0 && at <= blocks[i-1]) {
				t.Fatalf("block %d checked at byte %d of %d passed on", i, at, len(out))
			}
		}
		// The decoder, reading only what was passed on, allocates a
		// block's dictionary: nothing over the window may reach it.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		decoded := make(chan bool, 1)
		go func() {
			if dec, err := (xz.ReaderConfig{DictCap: 4096}).NewReader(bytes.NewReader(out)); err == nil {
				io.Copy(io.Discard, io.LimitReader(dec, 1<<20))
			}
			decoded <- true
		}()
		select {
		case <-decoded:
		case <-time.After(10 * time.Second):
			t.Fatalf("the decoder neither ended nor failed within 10 s on what was passed on")
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Fatalf("the decoder allocated %d MiB for what was passed on", grew>>20)
		}
		// Decoded block by block: no block decoder is made with a
		// dictionary over the window, it ends, and what it decodes
		// without an error is what the whole-stream decoder makes.
		runtime.ReadMemStats(&before)
		type decodedResult struct {
			out []byte
			err error
		}
		got := make(chan decodedResult, 1)
		go func() {
			d := NewXzDecoder(bytes.NewReader(data), window, false, func(r io.Reader, dict int64) (io.Reader, error) {
				if dict > window {
					panic("a block decoder made with a dictionary over the window")
				}
				return lzma2For(r, dict)
			})
			out, err := io.ReadAll(io.LimitReader(d, 1<<20))
			got <- decodedResult{out, err}
		}()
		var dr decodedResult
		select {
		case dr = <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("the block decoder neither ended nor failed within 10 s")
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Fatalf("the block decoder allocated %d MiB", grew>>20)
		}
		if dr.err == nil && len(dr.out) < 1<<20 {
			dec, err := (xz.ReaderConfig{DictCap: 4096}).NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("decoded block by block, refused whole: %v", err)
			}
			whole, err := io.ReadAll(io.LimitReader(dec, 2<<20))
			if err != nil || !bytes.Equal(whole, dr.out) {
				t.Fatalf("decoded block by block to %d bytes, whole to %d: %v", len(dr.out), len(whole), err)
			}
		}
	})
}

// BenchmarkXzReader decodes a real xz -6 stream (this test binary and
// text, about 8 MB) with ulikunitz/xz reading the bytes directly, beside
// the same through the structure reader, in one run: what following
// every block costs.
func BenchmarkXzReader(b *testing.B) {
	// Text, and bytes that compress about as a program does (a seeded
	// random stream of a few symbols): 8 MiB made here.
	bin := make([]byte, 4<<20)
	rng := rand.New(rand.NewSource(11))
	for i := range bin {
		bin[i] = byte(rng.Intn(16)) * byte(1+i%3)
	}
	raw := append(bin, words(4<<20, 7)...)
	data := xzTool(b, raw, "-6", "-T1", "-c", "--block-size=1MiB")
	for _, c := range []struct {
		name string
		dec  func() (io.Reader, error)
	}{
		// ulikunitz reading the stream whole, as the audit did before.
		{"whole", func() (io.Reader, error) { return xz.NewReader(bufio.NewReaderSize(bytes.NewReader(data), 4096)) }},
		// The audit: the container followed here, each block decoded
		// alone by ulikunitz's LZMA2 reader, checks verified here.
		{"blocks", func() (io.Reader, error) {
			return NewXzDecoder(bytes.NewReader(data), 128<<20, false, lzma2For), nil
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for range b.N {
				dec, err := c.dec()
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, dec); err != nil || n != int64(len(raw)) {
					b.Fatalf("decoded %d of %d bytes: %v", n, len(raw), err)
				}
			}
		})
	}
}

// lzma2For is the block decoder NewXzDecoder is given in the audit.
func lzma2For(r io.Reader, dict int64) (io.Reader, error) {
	return lzma.Reader2Config{DictCap: int(dict)}.NewReader2(r)
}

// Every shape xz writes decodes block by block as xz -dc decodes it; a
// damaged check, an index that lists other sizes and, for one stream,
// anything after it are errors.
func TestXzDecoderShapes(t *testing.T) {
	t.Parallel()
	for name, data := range xzShapes(t, 64<<10) {
		got, err := io.ReadAll(NewXzDecoder(bytes.NewReader(data), 64<<20, false, lzma2For))
		if want := xzTool(t, data, "-dc"); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: decoded %d bytes of %d: %v", name, len(got), len(want), err)
		}
		single, err := io.ReadAll(NewXzDecoder(bytes.NewReader(data), 64<<20, true, lzma2For))
		if name == "concatenated, padded" {
			if err == nil {
				t.Fatalf("%s: read as one stream", name)
			}
		} else if err != nil || !bytes.Equal(single, got) {
			t.Fatalf("%s as one stream: %v", name, err)
		}
	}
	shapes := xzShapes(t, 64<<10)
	for _, name := range []string{"xz", "--check=crc32", "--check=sha256"} {
		data := shapes[name]
		// The check is the last field before the index: the index starts
		// at the backward size the footer gives.
		back := (int(binary.LittleEndian.Uint32(data[len(data)-8:])) + 1) * 4
		idx := len(data) - 12 - back
		d := append([]byte(nil), data...)
		d[idx-1] ^= 1
		if _, err := io.ReadAll(NewXzDecoder(bytes.NewReader(d), 64<<20, false, lzma2For)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("check does not match")) {
			t.Fatalf("%s with a damaged check: %v", name, err)
		}
	}
}

// A chunk whose packed size covers more than its data uses hides bytes
// that a decoder reading the stream whole takes as the next chunk and
// then as a block header never checked (one asking for 128 MiB here).
// Decoded block by block, the block's LZMA2 data ends before its chunks
// do: an error, and nothing large allocated.
func TestXzDecoderHiddenBlock(t *testing.T) {
	t.Parallel()
	text := words(3000, 7)
	raw := xzTool(t, text, "--format=raw", "--lzma2=dict=4KiB", "-c")
	if raw[0] < 0xe0 || raw[len(raw)-1] != 0 {
		t.Fatalf("raw LZMA2 of text: control byte 0x%02x, want one LZMA chunk with a dictionary reset", raw[0])
	}
	packed := int(binary.BigEndian.Uint16(raw[3:])) + 1
	if 6+packed+1 != len(raw) {
		t.Fatalf("raw LZMA2 of text is not one chunk (%d packed bytes, %d in all)", packed, len(raw))
	}
	header := func(prop byte) []byte {
		h := []byte{0x02, 0x00, 0x21, 0x01, prop, 0, 0, 0}
		return binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	}
	hiddenData := xzTool(t, make([]byte, 1<<20), "--format=raw", "--lzma2=dict=128MiB", "-c")
	var s bytes.Buffer
	s.WriteString("\xfd7zXZ\x00\x00\x00")
	s.Write(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte{0, 0})))
	s.Write(header(0)) // a 4 KiB dictionary
	var hidden bytes.Buffer
	hidden.WriteByte(0) // where a whole-stream decoder ends the block
	for (12+6+packed+hidden.Len())%4 != 0 {
		hidden.WriteByte(0)
	}
	hidden.Write(header(30)) // 128 MiB
	hidden.Write(hiddenData)
	ch := append([]byte(nil), raw[:6]...)
	binary.BigEndian.PutUint16(ch[3:], uint16(packed+hidden.Len()-1))
	s.Write(ch)
	s.Write(raw[6 : 6+packed])
	s.Write(hidden.Bytes())
	s.WriteByte(0) // the block's end, where the chunk sizes say

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, err := io.Copy(io.Discard, NewXzDecoder(bytes.NewReader(s.Bytes()), 8<<20, false, lzma2For))
	runtime.ReadMemStats(&m1)
	if err == nil {
		t.Fatal("a block whose LZMA2 data ends before its chunks do was decoded without an error")
	}
	if a := m1.TotalAlloc - m0.TotalAlloc; a > 32<<20 {
		t.Fatalf("%d MiB allocated for a stream whose checked dictionary is 4 KiB: %v", a>>20, err)
	}
}

// An index whose record says another uncompressed size than the block
// decoded to is an error, as xz -dc says it is.
func TestXzDecoderIndex(t *testing.T) {
	t.Parallel()
	data := xzTool(t, words(64<<10, 9), "-c")
	back := (int(binary.LittleEndian.Uint32(data[len(data)-8:])) + 1) * 4
	idx := data[len(data)-12-back : len(data)-12]
	if idx[0] != 0 || idx[1] != 1 {
		t.Fatalf("index of one block expected: % x", idx[:4])
	}
	d := append([]byte(nil), data...)
	di := d[len(d)-12-back : len(d)-12]
	// The records: the unpadded size, then the uncompressed size.
	_, i, err := xzVarint(di, 2)
	if err != nil {
		t.Fatal(err)
	}
	di[i] ^= 1 // the uncompressed size's lowest bit
	binary.LittleEndian.PutUint32(di[len(di)-4:], crc32.ChecksumIEEE(di[:len(di)-4]))
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(d)
	if cmd.Run() == nil {
		t.Fatal("xz -dc accepts the changed index: the test changed nothing")
	}
	_, err = io.ReadAll(NewXzDecoder(bytes.NewReader(d), 64<<20, false, lzma2For))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("records are not the sizes")) {
		t.Fatalf("an index of other sizes: %v", err)
	}
}
