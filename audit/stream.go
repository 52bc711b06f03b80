package audit

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"

	"github.com/sealenv/sealenv/internal/match"
)

// A stream is one byte sequence searched end to end: a layer as stored, a
// layer decompressed, or the decoded content of a compressed file or zip
// entry inside one. Bytes reach it through [stream.Read] as whoever reads
// the stream (the tar walker) pulls them, so everything read is searched,
// whether or not the structure around it could be parsed. Hits get their
// place afterwards, from their offset, by the spans the walker reports.
type stream struct {
	r   io.Reader
	sc  *match.Scanner
	att attributor
	n   int64 // bytes read so far
}

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.sc.Write(p[:n])
		s.n += int64(n)
	}
	return n, err
}

// reset starts a new stream over r; path and part name the place of a
// byte that no span claims.
func (s *stream) reset(r io.Reader, path, part string) {
	s.r = r
	s.n = 0
	s.att.reset(path, part)
	s.sc.Start(&s.att)
}

// drain reads the stream to its end.
func (s *stream) drain(buf []byte) error {
	for {
		_, err := s.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// finish searches what is left in the buffer and returns every hit with
// its place.
func (s *stream) finish() []fileHit {
	s.sc.Close()
	return s.att.finish()
}

// A span is a range of a stream that belongs to one place: a part of one
// tar entry (its name, its data, a PAX record...) or of a nested archive.
type span struct {
	start, end int64
	path       string
	part       string
}

// Parts of an archive a byte can be in.
const (
	partData     = "data"     // an entry's content
	partHeader   = "header"   // a header field (mode, owner, uname, gname, checksum...)
	partName     = "name"     // the entry's name (ustar name and prefix, PAX path, GNU long name)
	partLinkname = "linkname" // a symlink or hardlink target
	partPAX      = "pax"      // a PAX record other than path, linkpath and xattrs
	partXattr    = "xattr"    // an extended attribute (SCHILY.xattr., LIBARCHIVE.xattr.)
	partPadding  = "padding"  // the bytes after an entry's data, up to the next block
	partTrailer  = "trailer"  // the end-of-archive marker and anything after it
	partUnparsed = "unparsed" // the rest of a stream after a structure that does not parse
	partStored   = "stored"   // a compressed layer as stored, before decompression
)

// attributor gives each hit the innermost span that holds its offset.
// Spans arrive in the order the walker closes them: an entry's inner parts
// (a name, a nested archive's entries) before the whole. A span is settled
// once the scanner has searched past its end, so memory holds only the
// spans of the last chunk, whatever the number of entries; hits (which
// become findings) are kept until the stream ends.
type attributor struct {
	path, part string    // the place of bytes no span claims
	depth      int       // decoded streams this one is inside (0: the stream as stored)
	spans      []span    // closed, not yet settled
	pending    []fileHit // hits not yet given a place, by offset
	claimed    []bool
	done       []fileHit
	mark       int64 // the scanner's progress: every hit before it is known
}

func (a *attributor) reset(path, part string) {
	a.path, a.part = path, part
	a.depth = 0
	a.spans = a.spans[:0]
	a.pending = a.pending[:0]
	a.claimed = a.claimed[:0]
	a.done = nil
	a.mark = 0
}

// Hit takes a hit of the stream's scanner.
func (a *attributor) Hit(h match.Hit) {
	// Hits come nearly in order (keyword and known-value hits of one chunk
	// interleave): insert from the back.
	i := len(a.pending)
	for i > 0 && a.pending[i-1].Offset > h.Offset {
		i--
	}
	a.pending = append(a.pending, fileHit{})
	a.claimed = append(a.claimed, false)
	copy(a.pending[i+1:], a.pending[i:])
	copy(a.claimed[i+1:], a.claimed[i:])
	a.pending[i] = fileHit{Hit: h}
	a.claimed[i] = false
}

// close records a finished span; an empty one is dropped.
func (a *attributor) close(s span) {
	if s.end <= s.start {
		return
	}
	a.spans = append(a.spans, s)
	a.settle()
}

// Searched settles the spans that end before mark: the scanner has given
// every hit before it.
func (a *attributor) Searched(mark int64) {
	a.mark = mark
	a.settle()
}

func (a *attributor) settle() {
	i := 0
	for ; i < len(a.spans) && a.spans[i].end <= a.mark; i++ {
		a.claim(a.spans[i])
	}
	if i > 0 {
		a.spans = append(a.spans[:0], a.spans[i:]...)
	}
}

func (a *attributor) claim(s span) {
	lo := sort.Search(len(a.pending), func(i int) bool { return a.pending[i].Offset >= s.start })
	for j := lo; j < len(a.pending) && a.pending[j].Offset < s.end; j++ {
		if !a.claimed[j] {
			a.claimed[j] = true
			a.pending[j].path = s.path
			a.pending[j].part = s.part
			a.pending[j].from = s.start
		}
	}
}

// flush moves the claimed hits before limit to done; an unclaimed one
// there gets the stream's own place.
func (a *attributor) flush(limit int64) {
	k := 0
	for ; k < len(a.pending) && a.pending[k].Offset < limit; k++ {
		h := a.pending[k]
		if !a.claimed[k] {
			h.path, h.part = a.path, a.part
		}
		a.done = append(a.done, h)
	}
	a.pending = append(a.pending[:0], a.pending[k:]...)
	a.claimed = append(a.claimed[:0], a.claimed[k:]...)
}

func (a *attributor) finish() []fileHit {
	for _, s := range a.spans {
		a.claim(s)
	}
	a.spans = a.spans[:0]
	a.flush(1<<63 - 1)
	for i := range a.done {
		a.done[i].depth = a.depth
	}
	out := a.done
	a.done = nil
	return out
}

// pipe hands chunks of a stream from one goroutine to another, so that one
// core decompresses while another searches. Chunks are recycled: memory is
// fixed whatever the stream's size.
type pipe struct {
	ctx   context.Context
	full  chan []byte
	free  chan []byte
	stop  chan struct{}
	once  sync.Once
	werr  error // set before full is closed
	rerr  error // set before stop is closed
	cur   []byte
	held  []byte
	wbuf  []byte
	size  int
	count int
	max   int
}

const pipeChunk = 256 << 10

func newPipe(ctx context.Context, chunks int) *pipe {
	return &pipe{ctx: ctx, full: make(chan []byte, chunks), free: make(chan []byte, chunks+2), stop: make(chan struct{}), size: pipeChunk, max: chunks + 2}
}

// Write copies p into chunks and hands each full one on.
func (p *pipe) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if p.wbuf == nil {
			select {
			case p.wbuf = <-p.free:
				p.wbuf = p.wbuf[:0]
			default:
				if p.count < p.max {
					p.count++
					p.wbuf = make([]byte, 0, p.size)
				} else {
					select {
					case p.wbuf = <-p.free:
						p.wbuf = p.wbuf[:0]
					case <-p.stop:
						return n, p.rerr
					case <-p.ctx.Done():
						return n, p.ctx.Err()
					}
				}
			}
		}
		m := copy(p.wbuf[len(p.wbuf):cap(p.wbuf)], b)
		p.wbuf = p.wbuf[:len(p.wbuf)+m]
		b = b[m:]
		n += m
		if len(p.wbuf) == cap(p.wbuf) {
			if err := p.send(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (p *pipe) send() error {
	select {
	case p.full <- p.wbuf:
		p.wbuf = nil
		return nil
	case <-p.stop:
		return p.rerr
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// CloseWrite hands on what is buffered and ends the stream with err (nil:
// a clean end).
func (p *pipe) CloseWrite(err error) {
	if err == nil && len(p.wbuf) > 0 {
		err = p.send()
	}
	p.werr = err
	close(p.full)
}

// Read returns the next bytes of the stream, in order.
func (p *pipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.held != nil {
			select {
			case p.free <- p.held:
			default:
			}
			p.held = nil
		}
		select {
		case c, ok := <-p.full:
			if !ok {
				if p.werr != nil {
					return 0, p.werr
				}
				return 0, io.EOF
			}
			p.held, p.cur = c, c
		case <-p.ctx.Done():
			return 0, p.ctx.Err()
		}
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// CloseRead tells the writer that nothing more will be read.
func (p *pipe) CloseRead(err error) {
	p.once.Do(func() {
		if err == nil {
			err = errors.New("reader closed")
		}
		p.rerr = err
		close(p.stop)
	})
}
