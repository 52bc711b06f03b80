package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Stream formats recognised from their first bytes.
const (
	fmtNone = iota
	fmtGzip
	fmtZstd
	fmtBzip2
	fmtXz
	fmtTar
	fmtZip
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
	case len(b) >= 4 && string(b[:3]) == "BZh" && b[3] >= '1' && b[3] <= '9':
		return fmtBzip2, "bzip2"
	case len(b) >= 6 && string(b[:6]) == "\xfd7zXZ\x00":
		return fmtXz, "xz"
	}
	return fmtNone, ""
}

func compressed(f int) bool { return f == fmtGzip || f == fmtZstd || f == fmtBzip2 || f == fmtXz }

// Limits bound the structured walk. Reaching one never skips a byte of the
// stream search; it makes the audit incomplete, with the reason.
type limits struct {
	depth  int   // archives and compressed files in one another
	sparse int64 // the logical size of a sparse file
	check  int64 // a YAML or JSON secrets file read whole for the plaintext-bundle check
}

// layerScan is the result of one layer.
type layerScan struct {
	hits       []fileHit
	plain      []Finding
	whiteouts  []string // paths deleted in lower layers
	opaques    []string // directories whose lower content is hidden
	files      int64
	bytes      int64
	incomplete []string // limits reached and structure that did not parse: never clean
	notes      []string // nested archives that did not parse; their bytes were searched
}

// fileHit is a detector hit with its place: the path of the file (a.jar!/b
// for an entry of an archive) and the part of it.
type fileHit struct {
	hit
	path  string
	part  string
	from  int64 // where the part starts in the stream
	depth int   // decoded streams it is in: 0 in the stream as stored
}

// walker reads one layer at a time; each worker owns one. Every layer is
// searched as one stream, end to end (and, when compressed, as stored too);
// the tar walk beside it only places hits, records whiteouts and opens what
// is compressed or archived inside, whose content is searched as streams of
// their own.
type walker struct {
	d       *detectors
	lim     limits
	free    []*stream // streams (each with its scanner) not in use
	peeks   []*bufio.Reader
	level   int // file nesting, for peeks
	decodes int // decoded streams open
	discard []byte
	// async, when set, holds a slot per goroutine that may decode a
	// compressed file beside the walk (shared by the audit's walkers);
	// jobs are the results to wait for.
	async chan struct{}
	jobs  []chan asyncResult
	// fieldSc searches tar header fields one by one; fieldHits holds its
	// hits until the layer's stream hits are known.
	fieldSc   *scanner
	fieldHits []fileHit
	res       *layerScan
	ctx       context.Context
}

var zstdOptions = []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxZstdWindow)}

// maxZstdWindow bounds the memory of one zstd stream; a stream that needs
// a larger window fails (the audit is then incomplete, never clean).
const maxZstdWindow = 128 << 20

// maxXzDict bounds the dictionary of an xz stream, for the same reason.
const maxXzDict = 128 << 20

// asyncSlots returns the slots for decoding compressed files beside the
// walks: one per CPU, at most eight (each holds up to maxAsync bytes).
func asyncSlots() chan struct{} {
	return make(chan struct{}, min(runtime.GOMAXPROCS(0), 8))
}

func newWalker(d *detectors, lim limits) *walker {
	return &walker{d: d, lim: lim, discard: make([]byte, 64<<10)}
}

func (w *walker) getStream() *stream {
	if n := len(w.free); n > 0 {
		s := w.free[n-1]
		w.free = w.free[:n-1]
		return s
	}
	return &stream{feed: feeder{sc: newScanner(w.d)}}
}

func (w *walker) putStream(s *stream) { s.r = nil; w.free = append(w.free, s) }

func (w *walker) peek(r io.Reader) *bufio.Reader {
	for len(w.peeks) <= w.level {
		w.peeks = append(w.peeks, bufio.NewReaderSize(nil, 64<<10))
	}
	br := w.peeks[w.level]
	br.Reset(r)
	return br
}

func (w *walker) incomplete(format string, a ...any) {
	w.res.incomplete = append(w.res.incomplete, fmt.Sprintf(format, a...))
}

func (w *walker) note(format string, a ...any) {
	w.res.notes = append(w.res.notes, fmt.Sprintf(format, a...))
}

// layer reads an image layer: a tar stream, compressed or not, told apart
// by content. An error means the layer could not be read to its end (the
// audit is then incomplete); structure that does not parse is listed in
// the result's incomplete reasons, after the whole stream was searched.
func (w *walker) layer(ctx context.Context, blob io.Reader, diffID v1.Hash) (*layerScan, error) {
	w.res = &layerScan{}
	w.fieldHits = w.fieldHits[:0]
	w.ctx = ctx
	w.level = 0
	br := w.peek(ctxReader{ctx, blob})
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(head) == 0 {
		return nil, errors.New("empty layer blob")
	}
	f, name := sniff(head)
	// withDiffID checks the decompressed stream against the diff ID, for
	// layers that have no digest of their own (docker save's manifest.json).
	withDiffID := func(r io.Reader) (io.Reader, error) {
		if diffID.Hex == "" {
			return r, nil
		}
		return verify(io.NopCloser(r), v1.Descriptor{Digest: diffID})
	}
	if !compressed(f) {
		top := w.getStream()
		defer w.putStream(top)
		src, err := withDiffID(br)
		if err != nil {
			return nil, err
		}
		top.reset(src, top.feed.sc, "", partUnparsed)
		err = w.top(top)
		w.res.hits = append(w.res.hits, top.finish()...)
		w.res.bytes += top.n
		w.addFieldHits()
		return w.res, err
	}

	// Compressed: one goroutine searches the layer as stored and
	// decompresses it, this one searches what comes out and walks it.
	stored := w.getStream()
	defer w.putStream(stored)
	top := w.getStream()
	defer w.putStream(top)
	stored.reset(br, stored.feed.sc, "", partStored)
	p := newPipe(ctx, 8)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		dec, err := decompressor(f, stored)
		if err == nil {
			_, err = io.Copy(p, dec)
			if c, ok := dec.(io.Closer); ok {
				c.Close()
			}
		}
		if err == nil {
			// Anything after the compressed stream is searched too.
			if n, _ := stored.Read(buf[:1]); n > 0 {
				err = fmt.Errorf("data after the end of the %s stream", name)
			}
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		if derr := stored.drain(buf); err == nil && derr != nil {
			err = derr
		}
		p.CloseWrite(err)
		done <- err
	}()
	src, err := withDiffID(p)
	if err != nil {
		p.CloseRead(err)
		<-done
		return nil, err
	}
	top.reset(src, top.feed.sc, "", partUnparsed)
	werr := w.top(top)
	p.CloseRead(werr)
	serr := <-done
	hits := top.finish()
	w.res.bytes += top.n + stored.n
	w.res.hits = append(w.res.hits, hits...)
	// A finding in the compressed bytes that is also in what they
	// decompress to is the same finding; keep the decompressed place.
	seen := map[string]bool{}
	for _, h := range hits {
		seen[h.key()] = true
	}
	for _, h := range stored.finish() {
		if !seen[h.key()] {
			w.res.hits = append(w.res.hits, h)
		}
	}
	w.addFieldHits()
	if werr == nil {
		werr = serr
	}
	return w.res, werr
}

// finding turns a placed hit into a finding: Offset in the file's content
// for part data, StreamOffset always.
func (h fileHit) finding(where string) Finding {
	f := hitFinding(h.hit)
	f.Where, f.Path, f.Part = where, h.path, h.part
	so := h.offset
	f.StreamOffset = &so
	f.Offset = nil
	if h.part == partData {
		off := h.offset - h.from
		f.Offset = &off
	}
	return f
}

func (h fileHit) key() string {
	if h.rule != nil {
		return h.kind + "\x00" + h.rule.ID
	}
	return h.kind + "\x00" + h.name
}

func decompressor(f int, r io.Reader) (io.Reader, error) {
	switch f {
	case fmtGzip:
		return gzip.NewReader(r)
	case fmtZstd:
		z, err := zstd.NewReader(r, zstdOptions...)
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	case fmtBzip2:
		return bzip2.NewReader(r), nil
	case fmtXz:
		br := bufio.NewReaderSize(r, 4096)
		head, _ := br.Peek(64)
		if d := xzDict(head); d > maxXzDict {
			return nil, fmt.Errorf("a dictionary of %d bytes, beyond the limit of %d", d, maxXzDict)
		}
		c := xz.ReaderConfig{DictCap: 8 << 20}
		return c.NewReader(br)
	}
	return nil, errors.New("not compressed")
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
			code := h[i] & 0x3f
			if code > 40 {
				return 1 << 40
			}
			if code == 40 {
				return 1<<32 - 1
			}
			return int64(2|code&1) << (code/2 + 11)
		}
		i += int(plen)
	}
	return 0
}

// top walks the decompressed layer stream as a tar archive and reads it to
// its end, so that every byte is searched.
func (w *walker) top(s *stream) error {
	next, err := w.tar(s, s, 0, "", true)
	if err != nil {
		if rerr := s.drain(w.discard); rerr != nil {
			return rerr
		}
		s.att.close(span{start: next, end: s.n, part: partUnparsed})
		if w.ctx.Err() != nil {
			return w.ctx.Err()
		}
		w.incomplete("the layer is not a tar archive that reads to its end (%v); its bytes were searched as stored, its files not opened", err)
		return nil
	}
	if err := s.drain(w.discard); err != nil {
		return err
	}
	s.att.close(span{start: next, end: s.n, part: partTrailer})
	return nil
}

// recorder counts the bytes a tar reader takes and keeps those of its
// headers, so that a hit there can be placed by field.
type recorder struct {
	r    io.Reader
	n    int64
	from int64 // keep bytes from this offset on
	buf  []byte
	on   bool
}

const maxHeaderRegion = 4 << 20 // archive/tar caps PAX and GNU long-name data at 1 MiB

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.on && n > 0 {
		lo := max(c.from-c.n, 0)
		if lo < int64(n) && len(c.buf) < maxHeaderRegion {
			c.buf = append(c.buf, p[lo:n]...)
		}
	}
	c.n += int64(n)
	return n, err
}

// tar walks a tar archive read from r, whose first byte is at offset base
// of the stream s; prefix is the path of the archive ("a.tar!/"), empty for
// a layer, whose whiteouts are recorded. It returns where the archive's
// entries end (relative to r).
func (w *walker) tar(r io.Reader, s *stream, base int64, prefix string, top bool) (int64, error) {
	rec := &recorder{r: r}
	tr := tar.NewReader(rec)
	var next int64 // where the next header starts
	for {
		rec.from, rec.on, rec.buf = next, true, rec.buf[:0]
		h, err := tr.Next()
		rec.on = false
		if errors.Is(err, io.EOF) {
			// archive/tar takes a stream cut at an entry boundary for a
			// clean end; the end-of-archive marker tells them apart.
			if top && rec.n < next+512 {
				return next, errors.New("truncated: no end-of-archive marker")
			}
			return next, nil
		}
		if err != nil {
			return next, err
		}
		dataStart := rec.n
		name := cleanPath(h.Name)
		full := prefix + name
		reg := parseTarRegion(rec.buf, base+next, full)
		if !reg.ok && len(rec.buf) < maxHeaderRegion {
			return next, fmt.Errorf("%s: header blocks that do not parse", full)
		}
		for _, p := range reg.parts {
			s.att.close(p)
		}
		w.fields(h, full)
		s.att.close(span{start: base + next, end: base + dataStart, path: full, part: partHeader})
		dataEnd := base + dataStart + h.Size
		if reg.ok {
			dataEnd = reg.mainEnd + reg.phys
		} else if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink || h.Typeflag == tar.TypeDir {
			dataEnd = base + dataStart
		}
		padEnd := base + (dataEnd-base+511)&^511

		if top {
			dir, b := path.Split(name)
			dir = strings.TrimSuffix(dir, "/")
			switch {
			case b == ".wh..wh..opq":
				w.res.opaques = append(w.res.opaques, dir)
			case strings.HasPrefix(b, ".wh."):
				w.res.whiteouts = append(w.res.whiteouts, path.Join(dir, b[4:]))
			}
		}
		switch {
		case h.Typeflag == tar.TypeXGlobalHeader || dataEnd == base+dataStart:
			// No data.
		case reg.sparse || h.Typeflag == tar.TypeGNUSparse:
			if err := w.sparse(tr, full, h.Size); err != nil {
				return next, err
			}
		default:
			// Whiteouts, contiguous files (7) and types tar does not know
			// are walked like regular files: their data is in the image.
			if err := w.file(tr, s, base+dataStart, full); err != nil {
				return next, err
			}
		}
		s.att.close(span{start: base + dataStart, end: dataEnd, path: full, part: partData})
		s.att.close(span{start: dataEnd, end: padEnd, path: full, part: partPadding})
		next = padEnd - base
	}
}

// fields searches the header fields of a tar entry one by one, as the
// strings they are: in the stream, a field runs into the next one (a
// symlink's target follows its type flag), which can hide a token from a
// rule that wants a word boundary.
func (w *walker) fields(h *tar.Header, full string) {
	if w.fieldSc == nil {
		w.fieldSc = &scanner{d: w.d, seen: map[seenKey]bool{}}
	}
	search := func(v, part string) {
		if v == "" {
			return
		}
		w.fieldSc.scanBytes([]byte(v), func(x hit) {
			w.fieldHits = append(w.fieldHits, fileHit{hit: x, path: full, part: part})
		})
	}
	search(h.Name, partName)
	search(h.Linkname, partLinkname)
	search(h.Uname, partHeader)
	search(h.Gname, partHeader)
	for k, v := range h.PAXRecords {
		switch {
		case k == "path" || k == "linkpath" || k == "uname" || k == "gname":
			// searched above
		case strings.HasPrefix(k, "SCHILY.xattr.") || strings.HasPrefix(k, "LIBARCHIVE.xattr."):
			search(v, partXattr)
		default:
			search(v, partPAX)
		}
	}
}

// dropShallow keeps one finding for a value that a compressed file's
// bytes and its decompressed content both hold (zstd and xz store short
// literals as they are): the one in the decompressed content.
func dropShallow(hits []fileHit) []fileHit {
	deep := map[string][]fileHit{}
	for _, h := range hits {
		if h.depth > 0 {
			deep[h.key()] = append(deep[h.key()], h)
		}
	}
	if len(deep) == 0 {
		return hits
	}
	out := hits[:0]
	for _, h := range hits {
		drop := false
		for _, d := range deep[h.key()] {
			if d.depth > h.depth && (d.path == h.path || strings.HasPrefix(d.path, h.path+"!/")) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, h)
		}
	}
	return out
}

// addFieldHits adds the hits of header fields that the stream search did
// not find at the same place.
func (w *walker) addFieldHits() {
	w.wait()
	w.res.hits = dropShallow(w.res.hits)
	if len(w.fieldHits) == 0 {
		return
	}
	seen := map[string]bool{}
	for _, h := range w.res.hits {
		seen[h.path+"\x00"+h.part+"\x00"+h.key()] = true
	}
	for _, h := range w.fieldHits {
		k := h.path + "\x00" + h.part + "\x00" + h.key()
		if !seen[k] {
			seen[k] = true
			w.res.hits = append(w.res.hits, h)
		}
	}
	w.fieldHits = w.fieldHits[:0]
}

// sparse looks into a sparse file. Its data fragments are in the stream,
// searched already; its holes are zeros, never searched byte by byte. Only
// a file whose content starts like an archive is read whole (holes as
// zeros), as a stream of its own.
func (w *walker) sparse(tr *tar.Reader, name string, size int64) error {
	if size > w.lim.sparse {
		w.incomplete("%s: a sparse file of %d bytes, beyond the limit of %d: its data fragments were searched, its content not opened", name, size, w.lim.sparse)
		return nil
	}
	w.res.files++
	w.level++
	defer func() { w.level-- }()
	br := w.peek(ctxReader{w.ctx, tr})
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	if f, _ := sniff(head); f == fmtNone {
		return nil
	}
	w.res.files--
	return w.decoded(br, name, func(s *stream) error { return w.file(s, s, 0, name) })
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

// countReader counts what is read through it, byte by byte too (flate
// reads a zip entry byte by byte when it can, and no further).
type countReader struct {
	r *bufio.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
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

// file looks into one file whose content is read from r and, when r is
// part of the stream s, starts at offset base of it: a compressed file or
// an archive is opened; a file named like a secrets file is checked for
// plaintext. Its bytes are searched by s already.
func (w *walker) file(r io.Reader, s *stream, base int64, name string) error {
	w.res.files++
	w.level++
	defer func() { w.level-- }()
	rec := &errRecorder{r: r}
	br := w.peek(rec)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	f, kind := sniff(head)
	if f == fmtNone {
		return w.text(br, head, name)
	}
	if w.level > w.lim.depth {
		w.incomplete("%s: %s nested deeper than the depth limit of %d: its bytes were searched as stored, its content not opened", name, kind, w.lim.depth)
		return nil
	}
	var end, consumed int64
	switch {
	case compressed(f):
		w.res.files-- // the compressed file counts once, as its content
		src := io.Reader(br)
		if w.async != nil {
			// A small compressed file is read whole (its bytes are in s
			// now) and decoded on another core while this walk goes on.
			buf, rerr := io.ReadAll(io.LimitReader(br, maxAsync+1))
			if rerr != nil {
				return fmt.Errorf("%s: %w", name, rerr)
			}
			if len(buf) <= maxAsync && w.goAsync(name, f, kind, buf) {
				return nil
			}
			src = io.MultiReader(bytes.NewReader(buf), br)
		}
		err = w.decompress(src, name, f, kind)
		if err == nil || rec.err != nil {
			return err
		}
	case f == fmtTar:
		cr := &countReader{r: br}
		end, err = w.tar(cr, s, base, name+"!/", false)
		consumed = cr.n
	case f == fmtZip:
		cr := &countReader{r: br}
		err = w.zip(cr, s, base, name+"!/")
		end, consumed = cr.n, cr.n
	}
	if rec.err != nil {
		return rec.err
	}
	// Bytes after the archive's end (or after what did not parse) belong
	// to the file; they are in s and searched there.
	n, derr := io.CopyBuffer(io.Discard, br, w.discard)
	if derr != nil {
		return derr
	}
	part := partTrailer
	if err != nil {
		part = partUnparsed
		w.note("%s: %v; the rest of the file was searched as bytes", name, err)
	}
	if f == fmtTar || f == fmtZip {
		s.att.close(span{start: base + end, end: base + consumed + n, path: name, part: part})
	}
	return nil
}

// decompress searches the content of a compressed file as a stream of its
// own.
func (w *walker) decompress(r io.Reader, name string, f int, kind string) error {
	dec, err := decompressor(f, ctxReader{w.ctx, r})
	if err != nil {
		return fmt.Errorf("%s: %s: %w", name, kind, err)
	}
	return w.decoded(dec, name, func(ds *stream) error { return w.file(ds, ds, 0, name) })
}

// maxAsync bounds a compressed file decoded on another goroutine; a larger
// one is decoded as the walk reaches it.
const maxAsync = 16 << 20

// goAsync decodes the compressed file buf on a goroutine of its own, with
// a walker of its own, when a slot is free; its result joins this layer's
// at the end (wait).
func (w *walker) goAsync(name string, f int, kind string, buf []byte) bool {
	select {
	case w.async <- struct{}{}:
	default:
		return false
	}
	sub := newWalker(w.d, w.lim)
	sub.async = nil // one level of hand-off is enough to use the cores
	sub.ctx = w.ctx
	sub.level, sub.decodes = w.level, w.decodes
	sub.res = &layerScan{}
	done := make(chan asyncResult, 1)
	w.jobs = append(w.jobs, done)
	go func() {
		defer func() { <-w.async }()
		err := sub.decompress(bytes.NewReader(buf), name, f, kind)
		sub.addFieldHits()
		done <- asyncResult{sub.res, err}
	}()
	return true
}

type asyncResult struct {
	res *layerScan
	err error
}

// wait joins the results of the files decoded on other goroutines. A
// decoding error is a note (the file's bytes were searched as stored);
// the layer's own read errors never come from there.
func (w *walker) wait() {
	for _, j := range w.jobs {
		r := <-j
		w.res.hits = append(w.res.hits, r.res.hits...)
		w.res.plain = append(w.res.plain, r.res.plain...)
		w.res.files += r.res.files
		w.res.bytes += r.res.bytes
		w.res.incomplete = append(w.res.incomplete, r.res.incomplete...)
		w.res.notes = append(w.res.notes, r.res.notes...)
		if r.err != nil {
			if w.ctx.Err() != nil {
				continue // the layer's own read reports the cancellation
			}
			w.note("%v; the rest of the file was searched as bytes", r.err)
		}
	}
	w.jobs = w.jobs[:0]
}

// plaintext checks a file named like a secrets file.
func (w *walker) plaintext(r io.Reader, name string) error {
	f, err := plaintextBundle(name, r, w.d.sealed, w.lim.check)
	if errors.Is(err, errTooLarge) {
		w.incomplete("%s: larger than %d bytes, the limit of the plaintext-bundle check: its bytes were searched, its keys not checked", name, w.lim.check)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if f != nil {
		f.Path = name
		f.Part = partData
		w.res.plain = append(w.res.plain, *f)
	}
	return nil
}

// decoded searches the content of a compressed file (or of a sparse file,
// holes included) as a stream of its own: fn reads it, the rest is
// drained. Hits are placed within that stream.
func (w *walker) decoded(r io.Reader, name string, fn func(*stream) error) error {
	if c, ok := r.(io.Closer); ok {
		defer c.Close() // after the content is drained below, not before
	}
	ds := w.getStream()
	defer w.putStream(ds)
	ds.reset(ctxReader{w.ctx, r}, ds.feed.sc, name, partData)
	w.decodes++
	defer func() { w.decodes-- }()
	ds.att.depth = w.decodes
	err := fn(ds)
	if err == nil {
		err = ds.drain(w.discard)
	} else {
		// What decoded before the error is searched; the rest of the
		// compressed bytes are in the enclosing stream.
		ds.drain(w.discard)
	}
	w.res.hits = append(w.res.hits, ds.finish()...)
	w.res.bytes += ds.n
	return err
}

// zip walks a zip archive as a stream, by its local file headers, as jar
// and zip tools write them. Stored entries are part of the stream s
// (their bytes are searched there); deflated ones are inflated and
// searched as streams of their own.
func (w *walker) zip(cr *countReader, s *stream, base int64, prefix string) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%szip: %s", where(prefix), fmt.Sprintf(format, a...))
	}
	var hdr [30]byte
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		sig, err := cr.r.Peek(4)
		if err != nil {
			if errors.Is(err, io.EOF) && len(sig) == 0 {
				return nil // a zip with no central directory; what was there was read
			}
			return fail("truncated")
		}
		if binary.LittleEndian.Uint32(sig) != 0x04034b50 {
			return nil // the central directory (or anything else) follows the entries
		}
		start := cr.n
		if _, err := io.ReadFull(cr, hdr[:]); err != nil {
			return fail("truncated header")
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		csize := int64(binary.LittleEndian.Uint32(hdr[18:]))
		nameLen := int(binary.LittleEndian.Uint16(hdr[26:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		meta := make([]byte, nameLen+extraLen)
		if _, err := io.ReadFull(cr, meta); err != nil {
			return fail("truncated header")
		}
		name := cleanPath(string(meta[:nameLen]))
		full := prefix + name
		s.att.close(span{start: base + start + 30, end: base + start + 30 + int64(nameLen), path: full, part: partName})
		s.att.close(span{start: base + start, end: base + cr.n, path: full, part: partHeader})
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
		dataStart := cr.n
		isDir := strings.HasSuffix(string(meta[:nameLen]), "/") || nameLen == 0
		switch {
		case method == 8:
			fr := flate.NewReader(cr) // cr is an io.ByteReader: no read-ahead
			if isDir {
				_, err = io.CopyBuffer(io.Discard, fr, w.discard)
			} else {
				err = w.decoded(fr, full, func(ds *stream) error { return w.file(ds, ds, 0, full) })
			}
			fr.Close()
			if err != nil {
				return err
			}
		case method == 0 && !descriptor:
			body := io.LimitReader(cr, csize)
			if !isDir {
				if err := w.file(body, s, base+dataStart, full); err != nil {
					return err
				}
			}
			if _, err := io.CopyBuffer(io.Discard, body, w.discard); err != nil {
				return fail("%s: %v", name, err)
			}
			if cr.n-dataStart != csize {
				return fail("%s: truncated", name)
			}
		case method == 0:
			return fail("%s is stored with an unknown size", name)
		default:
			return fail("%s uses compression method %d", name, method)
		}
		s.att.close(span{start: base + dataStart, end: base + cr.n, path: full, part: partData})
		if descriptor {
			d0 := cr.n
			d, err := cr.r.Peek(4)
			if err == nil && binary.LittleEndian.Uint32(d) == 0x08074b50 {
				cr.r.Discard(4)
				cr.n += 4
			}
			n := 12
			if zip64 {
				n = 20
			}
			m, err := cr.r.Discard(n)
			cr.n += int64(m)
			if err != nil {
				return fail("truncated data descriptor")
			}
			s.att.close(span{start: base + d0, end: base + cr.n, path: full, part: partHeader})
		}
	}
}
