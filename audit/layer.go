package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sealenv/sealenv/audit/internal/creds"
	"github.com/sealenv/sealenv/audit/internal/transport"
	"github.com/sealenv/sealenv/internal/match"
)

// Limits bound the structured walk. Reaching one never skips a byte of the
// stream search; it makes the audit incomplete, with the reason.
type limits struct {
	depth  int   // archives and compressed files in one another
	sparse int64 // the logical size of a sparse file
	check  int64 // a YAML or JSON secrets file read whole for the plaintext-bundle check
	window int64 // the window or dictionary of a compressed stream (zstd, xz, lzma, brotli, 7z)
	buffer int64 // a file held whole in memory to be opened (a 7z archive, a git pack) and a git object built from deltas
}

// Defaults of the limits that Options leave at zero.
const (
	defaultMaxWindow = 128 << 20
	defaultMaxBuffer = 256 << 20
)

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
	git        gitInfo  // git object stores met, to name the paths and commits of findings
}

// fileHit is a detector hit with its place: the path of the file (a.jar!/b
// for an entry of an archive) and the part of it.
type fileHit struct {
	match.Hit
	path  string
	part  string
	from  int64 // where the part starts in the stream
	depth int   // decoded streams it is in: 0 in the stream as stored
	git   *GitObject
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
	fieldSc   *match.Scanner
	fieldHits []fileHit
	res       *layerScan
	ctx       context.Context
	// contentOf names the file whose decoded content the next call to
	// file reads: its name does not say what that content is.
	contentOf string
}

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
	return &stream{sc: w.d.scanner()}
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
		return transport.Verify(io.NopCloser(r), v1.Descriptor{Digest: diffID})
	}
	if !compressed(f) {
		top := w.getStream()
		defer w.putStream(top)
		src, err := withDiffID(br)
		if err != nil {
			return nil, err
		}
		top.reset(src, "", partUnparsed)
		err = w.top(top)
		w.res.hits = append(w.res.hits, top.finish()...)
		w.res.bytes += top.n
		w.addFieldHits()
		w.gitFindings()
		return w.res, err
	}

	// Compressed: one goroutine searches the layer as stored and
	// decompresses it, this one searches what comes out and walks it.
	stored := w.getStream()
	defer w.putStream(stored)
	top := w.getStream()
	defer w.putStream(top)
	stored.reset(br, "", partStored)
	p := newPipe(ctx, 8)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		dec, err := decompressor(f, stored, &w.lim)
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
	top.reset(src, "", partUnparsed)
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
		seen[w.d.key(h)] = true
	}
	for _, h := range stored.finish() {
		if !seen[w.d.key(h)] {
			w.res.hits = append(w.res.hits, h)
		}
	}
	w.addFieldHits()
	w.gitFindings()
	if werr == nil {
		werr = serr
	}
	return w.res, werr
}

// finding turns a placed hit into a finding: Offset in the file's content
// for part data, StreamOffset always.
func (d *detectors) finding(h fileHit, where string) Finding {
	f := d.hitFinding(h.Hit)
	f.Where, f.Path, f.Part = where, h.path, h.part
	so := h.Offset
	f.StreamOffset = &so
	f.Offset = nil
	if h.part == partData {
		off := h.Offset - h.from
		f.Offset = &off
	}
	if h.git != nil {
		f.Git = h.git
		f.Message += " " + h.git.describe()
	}
	return f
}

// key says which detector found h: two hits of one key at related places
// are one finding.
func (d *detectors) key(h fileHit) string {
	if r := d.rule(h.Hit); r != nil {
		return kindRule + "\x00" + r.ID
	}
	return kindKnown + "\x00" + h.Name
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
				return next, structural(errors.New("truncated: no end-of-archive marker"))
			}
			return next, nil
		}
		if err != nil {
			return next, structural(err)
		}
		dataStart := rec.n
		name := cleanPath(h.Name)
		full := prefix + name
		reg := parseTarRegion(rec.buf, base+next, full)
		if !reg.ok && len(rec.buf) < maxHeaderRegion {
			return next, structural(fmt.Errorf("%s: header blocks that do not parse", full))
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
				// The entry's reader failed: the archive is truncated (a
				// read error of the stream below is the caller's to see).
				return next, structural(err)
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
		w.fieldSc = w.d.scanner()
	}
	search := func(v, part string) {
		if v == "" {
			return
		}
		w.fieldSc.Bytes([]byte(v), func(x match.Hit) {
			w.fieldHits = append(w.fieldHits, fileHit{Hit: x, path: full, part: part})
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
func (d *detectors) dropShallow(hits []fileHit) []fileHit {
	deep := map[string][]fileHit{}
	for _, h := range hits {
		if h.depth > 0 {
			deep[d.key(h)] = append(deep[d.key(h)], h)
		}
	}
	if len(deep) == 0 {
		return hits
	}
	out := hits[:0]
	for _, h := range hits {
		drop := false
		for _, dh := range deep[d.key(h)] {
			if dh.depth > h.depth && (dh.path == h.path || strings.HasPrefix(dh.path, h.path+"!/")) {
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
	w.res.hits = w.d.dropShallow(w.res.hits)
	if len(w.fieldHits) == 0 {
		return
	}
	seen := map[string]bool{}
	for _, h := range w.res.hits {
		seen[h.path+"\x00"+h.part+"\x00"+w.d.key(h)] = true
	}
	for _, h := range w.fieldHits {
		k := h.path + "\x00" + h.part + "\x00" + w.d.key(h)
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
		if err != nil && sub.ctx.Err() == nil {
			sub.failed(name, err, nil)
			err = nil
		}
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
// decoding error was recorded there (the audit is incomplete: the file's
// bytes were searched as stored, its content only up to the error); the
// layer's own read errors never come from there.
func (w *walker) wait() {
	for _, j := range w.jobs {
		r := <-j
		w.res.hits = append(w.res.hits, r.res.hits...)
		w.res.plain = append(w.res.plain, r.res.plain...)
		w.res.files += r.res.files
		w.res.bytes += r.res.bytes
		w.res.incomplete = append(w.res.incomplete, r.res.incomplete...)
		w.res.notes = append(w.res.notes, r.res.notes...)
		w.res.git.merge(&r.res.git)
		if r.err != nil && w.ctx.Err() == nil {
			w.incomplete("%v", r.err)
		}
	}
	w.jobs = w.jobs[:0]
}

// plaintext checks a file named like a secrets file.
func (w *walker) plaintext(r io.Reader, name string) error {
	f, err := checkPlain(name, r, w.d.sealed, w.lim.check)
	if errors.Is(err, creds.ErrTooLarge) {
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
	ds.reset(ctxReader{w.ctx, r}, name, partData)
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

// checkPlain checks a file that may hold credentials (see creds.Check).
func checkPlain(name string, r io.Reader, sealed map[string]bool, limit int64) (*Finding, error) {
	c, err := creds.Check(name, r, sealed, limit)
	if err != nil || c == nil {
		return nil, err
	}
	return &Finding{Kind: kindPlain, Rule: c.Rule, Severity: "high", Name: c.Name, Preview: c.Preview, Message: c.Message}, nil
}
