package match

import "strings"

// Sink receives the hits of a stream a [Scanner] searches.
type Sink interface {
	// Hit is called for each hit, nearly in the order of offsets (the
	// hits of one chunk interleave).
	Hit(Hit)
	// Searched says that every hit that starts before offset was given.
	Searched(offset int64)
}

// Start begins a stream whose hits go to sink; [Scanner.Write] feeds it,
// [Scanner.Close] ends it. Offsets count from the stream's first byte.
func (s *Scanner) Start(sink Sink) {
	if s.buf == nil {
		s.buf = make([]byte, chunkSize+4*(s.m.fwd+s.m.back))
	}
	s.sink = sink
	s.end, s.from, s.base = 0, 0, 0
	clear(s.seen)
}

func (s *Scanner) hit(h Hit) { s.sink.Hit(h) }

// Write searches p as the next bytes of the stream, in chunks, keeping the
// bytes a match could need from one chunk to the next.
func (s *Scanner) Write(p []byte) {
	buf := s.buf
	for len(p) > 0 {
		n := copy(buf[s.end:], p)
		s.end += n
		p = p[n:]
		if s.end < len(buf) {
			return
		}
		to := s.end - s.m.fwd
		s.scanRange(buf[:s.end], s.base, s.from, to, s.emit)
		// A rule match may start up to back bytes before its keyword.
		s.sink.Searched(s.base + int64(to-s.m.back))
		keep := to - s.m.back
		copy(buf, buf[keep:s.end])
		s.end -= keep
		s.base += int64(keep)
		s.from = to - keep
	}
}

// Close searches what is left of the stream.
func (s *Scanner) Close() {
	s.scanRange(s.buf[:s.end], s.base, s.from, s.end, s.emit)
	s.sink.Searched(s.base + int64(s.end))
}

// Replace returns str with every match in it (of a known value's form or
// of a rule) replaced by with; overlapping and adjacent matches are
// replaced once.
func (s *Scanner) Replace(str, with string) string {
	b := []byte(str)
	cut := make([]bool, len(b))
	found := false
	s.Bytes(b, func(h Hit) {
		for i := h.Offset; i < h.Offset+int64(h.Length) && i < int64(len(b)); i++ {
			cut[i] = true
			found = true
		}
	})
	if !found {
		return str
	}
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if !cut[i] {
			out.WriteByte(b[i])
			continue
		}
		out.WriteString(with)
		for i+1 < len(b) && cut[i+1] {
			i++
		}
	}
	return out.String()
}
