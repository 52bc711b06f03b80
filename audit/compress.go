package audit

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// A limitError says that a file needs more than a limit allows to be
// decoded: the audit is then incomplete, and names the limit.
type limitError struct {
	what  string // "a window of 2 GiB"
	limit string // "the window limit"
	value int64
}

func (e *limitError) Error() string {
	return fmt.Sprintf("needs %s, beyond %s of %s", e.what, e.limit, sizeString(e.value))
}

// Names of the limits in reasons, as the CLI maps them to its flags.
const (
	limitWindow = "the window limit"
	limitBuffer = "the buffer limit"
)

func windowError(need, limit int64) error {
	return &limitError{what: "a window of " + sizeString(need), limit: limitWindow, value: limit}
}

// sizeString prints a byte count in the largest binary unit that divides
// it, as the size flags take it.
func sizeString(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// decompressor opens the compressed stream r of format f. Memory is
// bounded by lim.window, checked against what each header asks for
// before the decoder allocates it.
func decompressor(f int, r io.Reader, lim *limits) (io.Reader, error) {
	window := lim.window
	if window <= 0 {
		window = defaultMaxWindow
	}
	switch f {
	case fmtGzip:
		return gzip.NewReader(r)
	case fmtZstd:
		br := bufio.NewReaderSize(r, 4096)
		head, _ := br.Peek(18)
		if w := zstdWindow(head); w > window {
			return nil, windowError(w, window)
		}
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(uint64(max(window, zstd.MinWindowSize))), zstd.WithDecoderMaxMemory(1<<62))
		if err != nil {
			return nil, err
		}
		return zstdErrors{z.IOReadCloser(), window}, nil
	case fmtBzip2:
		return bzip2.NewReader(r), nil
	case fmtXz:
		br := bufio.NewReaderSize(r, 4096)
		head, _ := br.Peek(64)
		if d := xzDict(head); d > window {
			return nil, windowError(d, window)
		}
		c := xz.ReaderConfig{DictCap: 8 << 20}
		return c.NewReader(br)
	case fmtLzma:
		br := bufio.NewReaderSize(r, 4096)
		head, _ := br.Peek(13)
		if len(head) < 13 {
			return nil, errors.New("truncated header")
		}
		if d := int64(binary.LittleEndian.Uint32(head[1:])); d > window {
			return nil, windowError(d, window)
		}
		return lzma.ReaderConfig{DictCap: int(min(window, lzma.MaxDictCap))}.NewReader(br)
	case fmtZ:
		return newLZWReader(r)
	case fmtBrotli:
		br := bufio.NewReaderSize(r, 4096)
		head, _ := br.Peek(8)
		w, large, ok := brotliWindow(head)
		if !ok {
			return nil, errors.New("not a brotli stream: its window size field is invalid")
		}
		if w > window {
			return nil, windowError(w, window)
		}
		return brotli.NewReaderOptions(br, brotli.ReaderOptions{LargeWindow: large}), nil
	case fmtZlib, fmtZlibData:
		return zlib.NewReader(r)
	case fmtLZ4:
		return newLZ4Reader(r)
	}
	return nil, errors.New("not compressed")
}

// zstdErrors names the window limit when the decoder refuses a frame
// past the first for its window.
type zstdErrors struct {
	io.ReadCloser
	window int64
}

func (z zstdErrors) Read(p []byte) (int, error) {
	n, err := z.ReadCloser.Read(p)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeTooSmall) {
		err = &limitError{what: "a larger window", limit: limitWindow, value: z.window}
	}
	return n, err
}

// zstdWindow returns the window a zstd frame header asks for, or 0 when b
// does not hold one.
func zstdWindow(b []byte) int64 {
	if len(b) < 6 || string(b[:4]) != "\x28\xb5\x2f\xfd" {
		return 0
	}
	fhd := b[4]
	if fhd&0x20 == 0 {
		// Window_Descriptor: exponent and mantissa.
		wd := b[5]
		base := int64(1) << (10 + wd>>3)
		return base + base/8*int64(wd&7)
	}
	// Single segment: the window is the frame's content size.
	pos := 5
	pos += []int{0, 1, 2, 4}[fhd&3]
	switch fhd >> 6 {
	case 0:
		if pos+1 <= len(b) {
			return int64(b[pos])
		}
	case 1:
		if pos+2 <= len(b) {
			return int64(binary.LittleEndian.Uint16(b[pos:])) + 256
		}
	case 2:
		if pos+4 <= len(b) {
			return int64(binary.LittleEndian.Uint32(b[pos:]))
		}
	case 3:
		if pos+8 <= len(b) {
			return int64(binary.LittleEndian.Uint64(b[pos:]) & (1<<62 - 1))
		}
	}
	return 0
}

// brotliWindow decodes the WBITS field at the start of a brotli stream
// (RFC 7932 9.1, and the large-window extension of RFC 9841): the window
// the decoder allocates.
func brotliWindow(b []byte) (int64, bool, bool) {
	if len(b) == 0 {
		return 0, false, false
	}
	x := uint32(b[0])
	if len(b) > 1 {
		x |= uint32(b[1]) << 8
	}
	if x&1 == 0 {
		return 1<<16 - 16, false, true
	}
	if n := (x >> 1) & 7; n != 0 {
		return 1<<(17+n) - 16, false, true
	}
	switch m := (x >> 4) & 7; {
	case m == 1:
		// Large window: six more bits give WBITS (10 to 30).
		if len(b) < 2 {
			return 0, false, false
		}
		wbits := (x >> 8) & 63
		if wbits < 10 || wbits > 30 {
			return 0, false, false
		}
		return 1<<wbits - 16, true, true
	case m != 0:
		return 1<<(8+m) - 16, false, true
	}
	return 1<<17 - 16, false, true
}

// xzDict returns the LZMA2 dictionary size the first block of an xz stream
// asks for (the decoder would allocate it), or 0 when it cannot tell.
func xzDict(b []byte) int64 {
	if len(b) < 14 || string(b[:6]) != "\xfd7zXZ\x00" || b[12] == 0 {
		return 0
	}
	h := b[12:]
	size := (int(h[0]) + 1) * 4
	if len(h) < size {
		return 0
	}
	flags := h[1]
	i := 2
	varint := func() (uint64, bool) {
		var x uint64
		for s := 0; i < size && s < 63; s += 7 {
			c := h[i]
			i++
			x |= uint64(c&0x7f) << s
			if c&0x80 == 0 {
				return x, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		varint()
	}
	if flags&0x80 != 0 {
		varint()
	}
	for n := int(flags&3) + 1; n > 0; n-- {
		id, ok1 := varint()
		plen, ok2 := varint()
		if !ok1 || !ok2 || i+int(plen) > size {
			return 0
		}
		if id == 0x21 && plen == 1 {
			return lzma2Dict(h[i])
		}
		i += int(plen)
	}
	return 0
}

// lzma2Dict decodes the one-byte LZMA2 dictionary size property.
func lzma2Dict(p byte) int64 {
	code := p & 0x3f
	if code > 40 {
		return 1 << 40
	}
	if code == 40 {
		return 1<<32 - 1
	}
	return int64(2|code&1) << (code/2 + 11)
}

var flatePool = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflateCheck inflates the start of the zlib stream b (a peeked
// buffer): ok when what is there inflates without an error, or ends
// where b does.
func inflateCheck(b []byte) ([]byte, bool) {
	fr := flatePool.Get().(io.ReadCloser)
	defer flatePool.Put(fr)
	if err := fr.(flate.Resetter).Reset(bytes.NewReader(b[2:]), nil); err != nil {
		return nil, false
	}
	out := make([]byte, 64)
	k, err := io.ReadFull(fr, out)
	return out[:k], err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// inflatePrefix returns up to n bytes that the zlib stream b starts
// with, for a header check; nothing when it does not inflate.
func inflatePrefix(b []byte, n int) []byte {
	if len(b) < 3 {
		return nil
	}
	fr := flatePool.Get().(io.ReadCloser)
	defer flatePool.Put(fr)
	if err := fr.(flate.Resetter).Reset(bytes.NewReader(b[2:]), nil); err != nil {
		return nil
	}
	out := make([]byte, n)
	k, _ := io.ReadFull(fr, out)
	return out[:k]
}
