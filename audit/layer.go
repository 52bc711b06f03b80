package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Stream formats recognised from their first bytes.
const (
	fmtNone = iota
	fmtGzip
	fmtZstd
	fmtTar
	fmtZip
	fmtUnknownCompression
)

func sniff(b []byte) (int, string) {
	switch {
	case len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8:
		return fmtGzip, "gzip"
	case len(b) >= 4 && string(b[:4]) == "\x28\xb5\x2f\xfd":
		return fmtZstd, "zstd"
	case len(b) >= 4 && string(b[:4]) == "PK\x03\x04":
		return fmtZip, "zip"
	case len(b) >= 262 && string(b[257:262]) == "ustar":
		return fmtTar, "tar"
	case len(b) >= 3 && string(b[:3]) == "BZh":
		return fmtUnknownCompression, "bzip2"
	case len(b) >= 6 && string(b[:6]) == "\xfd7zXZ\x00":
		return fmtUnknownCompression, "xz"
	}
	return fmtNone, ""
}

// layerScan is the result of one layer.
type layerScan struct {
	hits      []fileHit
	plain     []Finding
	whiteouts []string // paths deleted in lower layers
	opaques   []string // directories whose lower content is hidden
	files     int64
	bytes     int64
	depth     int      // archives past the depth limit
	notes     []string // nested archives that could not be opened
}

// fileHit is a detector hit in a file of a layer.
type fileHit struct {
	hit
	path string
}

// walker reads one layer (or nested archive) at a time; each worker owns one.
type walker struct {
	sc       *scanner
	maxDepth int
	peek     []*bufio.Reader
	zstd     *zstd.Decoder
	res      *layerScan
}

// maxZstdWindow bounds the memory of one zstd stream; a stream that needs
// a larger window fails (the audit is then incomplete, never clean).
const maxZstdWindow = 128 << 20

var zstdOptions = []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxZstdWindow)}

func newWalker(d *detectors, maxDepth int) *walker {
	w := &walker{sc: newScanner(d), maxDepth: maxDepth}
	for i := 0; i <= maxDepth+1; i++ {
		w.peek = append(w.peek, bufio.NewReaderSize(nil, 64<<10))
	}
	return w
}

func (w *walker) zstdReader(r io.Reader) (io.Reader, error) {
	if w.zstd == nil {
		z, err := zstd.NewReader(r, zstdOptions...)
		if err != nil {
			return nil, err
		}
		w.zstd = z
		return z, nil
	}
	return w.zstd, w.zstd.Reset(r)
}

// layer reads an image layer: a tar stream, gzip- or zstd-compressed or not,
// told apart by content.
func (w *walker) layer(r io.Reader) (*layerScan, error) {
	w.res = &layerScan{}
	br := w.peek[0]
	br.Reset(r)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(head) == 0 {
		return nil, errors.New("empty layer blob")
	}
	var tr io.Reader = br
	f, name := sniff(head)
	switch f {
	case fmtGzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		tr = z
	case fmtZstd:
		if tr, err = w.zstdReader(br); err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	case fmtUnknownCompression:
		return nil, fmt.Errorf("unsupported compression %s", name)
	case fmtZip:
		return nil, errors.New("layer is a zip file, not a tar archive")
	}
	if _, err := w.tar(tr, "", 0, true); err != nil {
		return nil, err
	}
	// Read to the end so that gzip checks its CRC and digests are verified.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return nil, fmt.Errorf("after the tar archive: %w", err)
	}
	return w.res, nil
}

// tar walks a tar stream; prefix names the archive it is nested in. top is
// true for the layer itself, whose whiteouts are recorded.
func (w *walker) tar(r io.Reader, prefix string, depth int, top bool) (int, error) {
	cr := &countReader{r: r}
	tr := tar.NewReader(cr)
	n := 0
	var end int64 // where the last entry's padded data ends
	sparse := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// archive/tar takes a stream cut at an entry boundary (or in
			// the padding) for a clean end; the end-of-archive marker
			// tells them apart. Some writers put one zero block, not two.
			if top && !sparse && cr.n < end+512 {
				return n, fmt.Errorf("%star: truncated (no end-of-archive marker)", where(prefix))
			}
			return n, nil
		}
		if err != nil {
			if n == 0 && top {
				return n, fmt.Errorf("not a tar archive: %w", err)
			}
			return n, fmt.Errorf("%star: %w", where(prefix), err)
		}
		n++
		end = cr.n + (h.Size+511)&^511
		if h.Typeflag == tar.TypeGNUSparse || h.PAXRecords["GNU.sparse.major"] != "" {
			sparse = true
		}
		name := cleanPath(h.Name)
		if top {
			dir, base := path.Split(name)
			dir = strings.TrimSuffix(dir, "/")
			if base == ".wh..wh..opq" {
				w.res.opaques = append(w.res.opaques, dir)
				continue
			}
			if strings.HasPrefix(base, ".wh.") {
				w.res.whiteouts = append(w.res.whiteouts, path.Join(dir, base[4:]))
				continue
			}
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeGNUSparse {
			continue
		}
		if err := w.file(tr, prefix+name, depth); err != nil {
			return n, err
		}
	}
}

// errRecorder remembers a read error of the stream under a nested
// archive, to tell a damaged layer (an error) from a file that merely
// looks like an archive (a note).
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func where(prefix string) string {
	if prefix == "" {
		return ""
	}
	return strings.TrimSuffix(prefix, "!/") + ": "
}

func cleanPath(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

// maxBundleCheck bounds what is held in memory to check a file named like a
// secrets file; larger ones are searched as a stream only.
const maxBundleCheck = 4 << 20

// file searches one file, or the entries of an archive it holds.
func (w *walker) file(r io.Reader, name string, depth int) error {
	w.res.files++
	br := w.peek[depth+1]
	rec := &errRecorder{r: r}
	br.Reset(rec)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	f, _ := sniff(head)
	if f != fmtNone && f != fmtUnknownCompression {
		if depth >= w.maxDepth {
			w.res.depth++
		} else {
			err := w.archive(br, f, name, depth)
			if err == nil || rec.err != nil {
				return err
			}
			// The file only looked like an archive, or is a damaged one,
			// while the layer itself reads fine: note it, and search the
			// rest of it as bytes.
			w.res.notes = append(w.res.notes, err.Error()+"; the rest was searched as bytes")
			n, err := w.sc.scan(br, func(h hit) { w.res.hits = append(w.res.hits, fileHit{hit: h, path: name}) })
			w.res.bytes += n
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}
	}
	emit := func(h hit) { w.res.hits = append(w.res.hits, fileHit{hit: h, path: name}) }
	if looksLikeSecretsFile(name) {
		data, err := io.ReadAll(io.LimitReader(br, maxBundleCheck+1))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(data) <= maxBundleCheck {
			w.res.bytes += int64(len(data))
			if fd := plaintextBundle(name, data, w.sc.d.sealed); fd != nil {
				fd.Path = name
				w.res.plain = append(w.res.plain, *fd)
			}
			w.sc.scanBytes(data, emit)
			return nil
		}
		n, err := w.sc.scan(io.MultiReader(bytes.NewReader(data), br), emit)
		w.res.bytes += n
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	n, err := w.sc.scan(br, emit)
	w.res.bytes += n
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// archive searches the content of a compressed file or nested archive.
func (w *walker) archive(br *bufio.Reader, f int, name string, depth int) error {
	switch f {
	case fmtGzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer z.Close()
		w.res.files-- // the compressed file counts once, as its content
		return w.file(z, name, depth+1)
	case fmtZstd:
		z, err := zstd.NewReader(br, zstdOptions...)
		if err != nil {
			return fmt.Errorf("%s: zstd: %w", name, err)
		}
		defer z.Close()
		w.res.files--
		return w.file(z, name, depth+1)
	case fmtTar:
		_, err := w.tar(br, name+"!/", depth+1, false)
		return err
	case fmtZip:
		return w.zip(br, name+"!/", depth+1)
	}
	return nil
}

// zip walks a zip archive as a stream, by its local file headers, as jar
// and zip tools write them. Entries are inflated as they come.
func (w *walker) zip(br *bufio.Reader, prefix string, depth int) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%szip: %s", where(prefix), fmt.Sprintf(format, a...))
	}
	var hdr [30]byte
	for {
		sig, err := br.Peek(4)
		if err != nil {
			if errors.Is(err, io.EOF) && len(sig) == 0 {
				return nil // a zip with no central directory; what was there was read
			}
			return fail("truncated")
		}
		if binary.LittleEndian.Uint32(sig) != 0x04034b50 {
			// The central directory (or anything else) follows the entries.
			_, err := io.Copy(io.Discard, br)
			return err
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return fail("truncated header")
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		csize := int64(binary.LittleEndian.Uint32(hdr[18:]))
		nameLen := int(binary.LittleEndian.Uint16(hdr[26:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		meta := make([]byte, nameLen+extraLen)
		if _, err := io.ReadFull(br, meta); err != nil {
			return fail("truncated header")
		}
		name := cleanPath(string(meta[:nameLen]))
		zip64 := false
		for e := meta[nameLen:]; len(e) >= 4; {
			id, sz := binary.LittleEndian.Uint16(e), int(binary.LittleEndian.Uint16(e[2:]))
			if id == 1 {
				zip64 = true
				if sz >= 16 && len(e) >= 4+16 {
					csize = int64(binary.LittleEndian.Uint64(e[12:]))
				}
			}
			if len(e) < 4+sz {
				break
			}
			e = e[4+sz:]
		}
		if flags&1 != 0 {
			return fail("%s is encrypted", name)
		}
		descriptor := flags&8 != 0
		var body io.Reader
		switch {
		case method == 8:
			fr := flate.NewReader(br) // br is an io.ByteReader: no read-ahead
			defer fr.Close()
			body = fr
		case method == 0 && !descriptor:
			body = io.LimitReader(br, csize)
		case method == 0:
			return fail("%s is stored with an unknown size", name)
		default:
			return fail("%s uses compression method %d", name, method)
		}
		if strings.HasSuffix(name, "/") || nameLen == 0 {
			if _, err := io.Copy(io.Discard, body); err != nil {
				return fail("%s: %v", name, err)
			}
		} else if err := w.file(body, prefix+name, depth); err != nil {
			return err
		}
		// Drain what the entry's reader left (a stored entry read partly by
		// a nested walker).
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fail("%s: %v", name, err)
		}
		if descriptor {
			d, err := br.Peek(4)
			if err == nil && binary.LittleEndian.Uint32(d) == 0x08074b50 {
				br.Discard(4)
			}
			n := 12
			if zip64 {
				n = 20
			}
			if _, err := br.Discard(n); err != nil {
				return fail("truncated data descriptor")
			}
		}
	}
}
