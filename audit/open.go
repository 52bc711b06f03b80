package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/sealenv/sealenv/audit/internal/creds"
	"github.com/sealenv/sealenv/audit/internal/decode"
)

// A structError is structure that does not parse (a header of an
// archive), in bytes that are all searched as stored anyway. Whether it
// leaves anything unsearched depends on what follows it (see failed).
type structError struct{ err error }

func (e *structError) Error() string { return e.err.Error() }
func (e *structError) Unwrap() error { return e.err }

func structural(err error) error {
	if err == nil {
		return nil
	}
	var se *structError
	if errors.As(err, &se) {
		return err
	}
	return &structError{err}
}

// A decodeError is compressed or encrypted content that could not be
// decoded: what it holds was not searched, so the audit is incomplete.
type decodeError struct {
	name, kind string
	err        error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.name, e.kind, e.err)
}
func (e *decodeError) Unwrap() error { return e.err }

// A signature is where a format the walker decodes starts in bytes that
// were only searched as stored.
type signature struct {
	off int64
	f   int
}

// failed records why the file name could not be walked or decoded to its
// end. The boundary between incomplete and a note:
//   - a limit reached, content that does not decode (compressed data, an
//     entry in an unknown method, an encrypted entry): incomplete;
//   - structure that does not parse, in a format found where it must be
//     (at byte 0, or at a place its container gives, and confirmed by its
//     header): the bytes after it were searched as stored; it is
//     incomplete when they hold the signature of anything the walker
//     decodes (sig), which may hide more, and a note when they do not:
//     then every byte was searched and nothing in it could decode to more.
func (w *walker) failed(name string, err error, sig *signature) {
	var le *limitError
	var se *structError
	switch {
	case errors.As(err, &le):
		w.incomplete("%v: its bytes were searched as stored, its content not decoded", prefixed(name, err))
	case errors.As(err, &se) && sig == nil:
		w.note("%v; the rest of the file was searched as bytes and holds nothing the audit decodes", prefixed(name, err))
	case errors.As(err, &se):
		w.incomplete("%v; the rest of the file was searched as bytes, but holds a %s signature at offset %d that was not opened", prefixed(name, err), formatNames[sig.f], sig.off)
	default:
		w.incomplete("%v: its bytes were searched as stored, its content as far as it decoded", prefixed(name, err))
	}
}

// prefixed names the file in err unless err does already.
func prefixed(name string, err error) string {
	msg := err.Error()
	if len(msg) >= len(name) && msg[:len(name)] == name {
		return msg
	}
	return name + ": " + msg
}

// file looks into one file whose content is read from r and, when r is
// part of the stream s, starts at offset base of it. A compressed file or an archive is opened, also
// one that starts after a script or an executable; a file named like a
// secrets file is checked for plaintext. Its bytes are searched by s
// already.
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
	f, kind := sniffFile(name, head)
	if name == w.contentOf {
		// The decoded content of the file name: its name says what the
		// file was (x.br), not what it decodes to.
		f, kind = sniff(head)
	}
	w.contentOf = ""
	if f == fmtNone {
		// UTF-16 text, and a file its name or first bytes say holds
		// credentials, are read as text; anything else may hold an archive
		// after a script or an executable.
		if _, _, ok := decode.UTF16Text(head); ok || creds.KindOf(name, head) != creds.None {
			return w.text(br, head, name)
		}
		return w.embedded(br, rec, s, base, name, head)
	}
	if compressed(f) {
		w.res.files-- // the compressed file counts once, as its content
	}
	return w.walkAt(br, rec, s, base, 0, name, f, kind)
}

// walkAt opens the format f that starts at offset at of the file name
// (br reads the file from there), then reads the file to its end. When
// structure does not parse, the rest of the file is searched for the
// next place a format starts (confirmed by its header), which is opened
// in turn: a damaged archive is read past its damage.
func (w *walker) walkAt(br *bufio.Reader, rec *errRecorder, s *stream, base, at int64, name string, f int, kind string) error {
	for resyncs := 0; ; resyncs++ {
		if w.level > w.lim.depth {
			w.incomplete("%s: %s nested deeper than the depth limit of %d: its bytes were searched as stored, its content not opened", name, kind, w.lim.depth)
			_, _, err := w.drainRest(br, false, 0, false)
			return err
		}
		end, n, err := w.walkOne(br, s, base, at, name, f)
		if rec.err != nil {
			return rec.err
		}
		if err != nil && w.ctx.Err() != nil {
			return w.ctx.Err()
		}
		archive := !compressed(f)
		var se *structError
		if err == nil || !errors.As(err, &se) {
			// Bytes after the structure's end (or after content that did
			// not decode) belong to the file; they are in s and searched
			// there.
			rest, _, derr := w.drainRest(br, false, 0, false)
			if derr != nil {
				return derr
			}
			if err != nil {
				w.failed(name, err, nil)
			}
			if archive {
				part := partTrailer
				if err != nil {
					part = partUnparsed
				}
				s.att.close(span{start: base + at + end, end: base + at + n + rest, path: name, part: part})
			}
			return nil
		}
		// Structure that does not parse: read on to the next format.
		skipped, sig, derr := w.drainRest(br, true, at+n, n == 0)
		if derr != nil {
			return derr
		}
		if archive {
			s.att.close(span{start: base + at + end, end: base + at + n + skipped, path: name, part: partUnparsed})
		}
		if sig == nil {
			w.failed(name, err, nil)
			return nil
		}
		if resyncs >= maxResyncs {
			// Damage after damage: what is left is searched as stored.
			w.failed(name, structural(fmt.Errorf("%v, and %d more damaged structures", err, resyncs)), sig)
			_, _, derr := w.drainRest(br, false, 0, false)
			return derr
		}
		w.note("%v; read on from offset %d, where a %s starts", prefixed(name, err), sig.off, formatNames[sig.f])
		at, f, kind = sig.off, sig.f, formatNames[sig.f]
	}
}

// maxResyncs bounds how often one file is read on past structure that
// does not parse; past it, the rest is searched as stored and, when it
// holds a signature, the audit is incomplete.
const maxResyncs = 32

// walkOne opens the format f at offset at of the file: end is where its
// structure ends and n what it read, from at.
func (w *walker) walkOne(br *bufio.Reader, s *stream, base, at int64, name string, f int) (end, n int64, err error) {
	cr := &countReader{r: br}
	switch f {
	case fmtTar:
		end, err = w.tar(cr, s, base+at, name+"!/", false)
		return end, cr.n, err
	case fmtZip:
		err = w.zip(cr, s, base+at, name+"!/")
	case fmtAr:
		err = w.ar(cr, s, base+at, name+"!/")
	case fmtCpio:
		err = w.cpio(cr, s, base+at, name+"!/")
	case fmtRpm:
		err = w.rpm(cr, s, base+at, name)
	case fmt7z:
		err = w.sevenZip(cr, name)
	case fmtPack:
		err = w.gitPack(cr, name)
	case fmtZlib:
		err = w.looseObject(br, name)
		return 0, 0, err
	default:
		err = w.decompressFile(br, name, f, formatNames[f])
		return 0, 0, err
	}
	return cr.n, cr.n, err
}

// decompressFile searches the content of a compressed file, on another
// core when it is small and a slot is free.
func (w *walker) decompressFile(br *bufio.Reader, name string, f int, kind string) error {
	src := io.Reader(br)
	if w.async != nil {
		// A small compressed file is read whole (its bytes are in s now)
		// and decoded on another core while this walk goes on.
		buf, err := io.ReadAll(io.LimitReader(br, maxAsync+1))
		if err != nil {
			return err
		}
		if len(buf) <= maxAsync && w.goAsync(name, f, kind, buf) {
			return nil
		}
		src = io.MultiReader(bytes.NewReader(buf), br)
	}
	return w.decompress(src, name, f, kind)
}

// decompress searches the content of a compressed file as a stream of its
// own. A decoder error is a decodeError (a limit a limitError); an error
// reading r is returned as it is.
func (w *walker) decompress(r io.Reader, name string, f int, kind string) error {
	rec := &errRecorder{r: r}
	dec, err := decompressor(f, ctxReader{w.ctx, rec}, &w.lim)
	if err == nil {
		drec := &errRecorder{r: dec}
		err = w.decoded(drec, name, func(ds *stream) error {
			w.contentOf = name
			return w.file(ds, ds, 0, name)
		})
		if drec.err != nil {
			err = drec.err // what the decoder said, not how it reached the reader
		}
		if c, ok := dec.(io.Closer); ok {
			c.Close()
		}
	}
	switch {
	case err == nil:
		return nil
	case rec.err != nil:
		return rec.err
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	}
	var le *limitError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %s %w", name, kind, err)
	}
	return &decodeError{name: name, kind: kind, err: err}
}

// drainRest reads the rest of a file, from offset at of it. After
// structure that failed (scan), it stops where the first signature of a
// format the walker decodes is (confirmed by its header), and returns it:
// br is then there. skipFirst skips a signature right at the start (the
// structure that failed there without reading a byte).
func (w *walker) drainRest(br *bufio.Reader, scan bool, at int64, skipFirst bool) (int64, *signature, error) {
	if !scan {
		n, err := io.CopyBuffer(io.Discard, br, w.discard)
		return n, nil, err
	}
	var n int64
	const overlap = 600 // a header's 512 bytes, and tar's 257 before "ustar"
	for {
		if err := w.ctx.Err(); err != nil {
			return n, nil, err
		}
		b, err := br.Peek(br.Size())
		if len(b) == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return n, nil, nil
			}
			return n, nil, err
		}
		last := err != nil
		take := len(b)
		if !last {
			take = len(b) - overlap
		}
		if i, f := findSignature(b, take); i >= 0 {
			if i == 0 && n == 0 && skipFirst {
				// Where the failed structure began: look past it.
				if j, g := findSignature(b[1:], take-1); j >= 0 {
					i, f = j+1, g
				} else {
					i = -1
				}
			}
			if i >= 0 {
				if _, derr := br.Discard(i); derr != nil {
					return n, nil, derr
				}
				return n + int64(i), &signature{off: at + n + int64(i), f: f}, nil
			}
		}
		if _, derr := br.Discard(take); derr != nil {
			return n, nil, derr
		}
		n += int64(take)
		if last {
			if errors.Is(err, io.EOF) {
				return n, nil, nil
			}
			return n, nil, err
		}
	}
}

// embedded looks for an archive inside a file that does not start with
// one, where formats put it: after the lines of a script (executable
// jars, self-extracting installers, Python zip applications) or of a git
// bundle's header (a pack follows), after the
// end of an ELF or PE executable (self-extracting archives), or where a
// zip's end record says its entries start. Whatever is found there and
// confirmed by its header is opened like a file of its own; the bytes
// before it are searched as the file's.
func (w *walker) embedded(br *bufio.Reader, rec *errRecorder, s *stream, base int64, name string, head []byte) error {
	var at, pos int64 = -1, 0 // where an archive starts; what was read
	var err error
	switch {
	case bytes.HasPrefix(head, []byte("#!")) || bytes.HasPrefix(head, []byte("# v2 git bundle\n")) || bytes.HasPrefix(head, []byte("# v3 git bundle\n")):
		// A script's lines, or a git bundle's (its refs, then a pack).
		at, pos, err = w.afterScript(br)
	case bytes.HasPrefix(head, []byte("\x7fELF")) || bytes.HasPrefix(head, []byte("MZ")):
		at, pos, err = w.afterExecutable(br)
	}
	if rec.err != nil {
		return rec.err
	}
	if err != nil {
		return err
	}
	if at >= 0 {
		h, _ := br.Peek(512)
		if f, kind := sniff(h); f != fmtNone {
			if compressed(f) {
				w.res.files--
			}
			return w.walkAt(br, rec, s, base, at, name, f, kind)
		}
	}
	return w.zipByEndRecord(br, rec, s, base, pos, name)
}

// afterScript reads a script line by line and returns the offset of the
// first line that starts an archive or a compressed stream (br is then
// there), or -1 after reading the whole file; pos is what it read.
func (w *walker) afterScript(br *bufio.Reader) (at, pos int64, err error) {
	lineStart := true
	for {
		if err := w.ctx.Err(); err != nil {
			return -1, pos, err
		}
		if lineStart && pos > 0 {
			h, _ := br.Peek(512)
			if f := sniffFormat(h); f != fmtNone {
				return pos, pos, nil
			}
		}
		line, err := br.ReadSlice('\n')
		pos += int64(len(line))
		lineStart = err == nil
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				return -1, pos, nil
			}
			return -1, pos, err
		}
	}
}

// afterExecutable reads an ELF or PE file up to where its headers say it
// ends and returns that offset when something follows (br is then
// there), or -1; pos is what it read.
func (w *walker) afterExecutable(br *bufio.Reader) (at, pos int64, err error) {
	h, _ := br.Peek(4096)
	end := decode.ExeEnd(h)
	if end <= 0 {
		return -1, 0, nil
	}
	n, err := io.CopyN(io.Discard, br, end)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return -1, n, nil
		}
		return -1, n, err
	}
	if _, err := br.Peek(1); err != nil {
		return -1, n, nil
	}
	return n, n, nil
}

// zipByEndRecord reads the rest of a file, from offset pos, and checks
// its last bytes for a zip's end-of-central-directory record. A file
// small enough to be held whole (one buffer) is walked from where the
// record says its entries start; in a larger one, found after its bytes
// went by, the zip makes the audit incomplete.
func (w *walker) zipByEndRecord(br *bufio.Reader, rec *errRecorder, s *stream, base, pos int64, name string) error {
	b, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		if rec.err != nil {
			return rec.err
		}
		return err
	}
	if errors.Is(err, io.EOF) && pos == 0 {
		// The whole file is in b.
		start, cd, ok := decode.ZipStart(b, int64(len(b)))
		if ok && start == 0 {
			start = decode.FirstLocal(b[cd:])
		}
		if !ok || start <= 0 || start >= int64(len(b)) {
			_, err := br.Discard(len(b))
			return err
		}
		if _, err := br.Discard(int(start)); err != nil {
			return err
		}
		h, _ := br.Peek(512)
		if f, kind := sniff(h); f == fmtZip {
			return w.walkAt(br, rec, s, base, start, name, f, kind)
		}
		w.incomplete("%s: a zip end record says the entries start at offset %d, where there is no zip entry: its bytes were searched as stored, its entries not opened", name, start)
		_, err = br.Discard(len(b) - int(start))
		return err
	}
	// A large file: keep its tail as it goes by.
	var tail [tailKeep]byte
	nt := 0
	var n int64
	for {
		k, err := br.Read(w.discard)
		if k > 0 {
			n += int64(k)
			if k >= tailKeep {
				nt = copy(tail[:], w.discard[k-tailKeep:k])
			} else {
				keep := min(nt, tailKeep-k)
				copy(tail[:keep], tail[nt-keep:nt])
				nt = keep + copy(tail[keep:], w.discard[:k])
			}
		}
		if err != nil {
			if rec.err != nil {
				return rec.err
			}
			if !errors.Is(err, io.EOF) {
				return err
			}
			break
		}
	}
	if _, cd, ok := decode.ZipStart(tail[:nt], pos+n); ok {
		w.incomplete("%s: holds a zip archive (its central directory at offset %d, found by its end record) after bytes the audit does not parse, and is larger than one buffer: its bytes were searched as stored, its entries not opened", name, cd)
	}
	return nil
}

// tailKeep is how much of a large file's end is kept to find a zip end
// record: the record and a comment of up to 1 KiB.
const tailKeep = 22 + 1024
