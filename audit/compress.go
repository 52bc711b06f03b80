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
	"github.com/ulikunitz/xz/lzma"

	"github.com/sealenv/sealenv/audit/internal/decode"
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
		if w := decode.ZstdWindow(head); w > window {
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
		// Every block's header is checked, in every stream, before the
		// block is read, and each block is decoded alone with the
		// dictionary it asked for (see decode.NewXzDecoder).
		return xzErrors{decode.NewXzDecoder(r, window, false, newLzma2), window}, nil
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
		return decode.NewLZWReader(r)
	case fmtBrotli:
		br := bufio.NewReaderSize(r, 4096)
		head, _ := br.Peek(8)
		w, large, ok := decode.BrotliWindow(head)
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
		return decode.NewLZ4Reader(r)
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

// newLzma2 decodes one xz block's LZMA2 data with the dictionary the
// block asked for (already checked against the window).
func newLzma2(r io.Reader, dict int64) (io.Reader, error) {
	return lzma.Reader2Config{DictCap: int(dict)}.NewReader2(r)
}

// xzErrors names the window limit when an xz block (past the first, or in
// a later stream) asks for more than it.
type xzErrors struct {
	io.Reader
	window int64
}

func (x xzErrors) Read(p []byte) (int, error) {
	n, err := x.Reader.Read(p)
	return n, xzLimit(err, x.window)
}

// xzLimit turns what the xz structure reader refused for the window into
// the limitError that names the limit.
func xzLimit(err error, window int64) error {
	var e *decode.XzLimitError
	if !errors.As(err, &e) {
		return err
	}
	if e.Dict > 0 {
		return windowError(e.Dict, window)
	}
	return &limitError{what: fmt.Sprintf("the index of more than %d blocks in one stream", e.Blocks), limit: limitWindow, value: window}
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
