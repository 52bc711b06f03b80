package audit

import (
	"bytes"
	"encoding/binary"
	"io"
)

// Redactor replaces, in text, every form of the sealed values that the
// known-value detector searches an image for (raw, hex, base64 at every
// alignment and wrapped, URL, JSON, HTML and UTF-16 escapes): one matcher
// for the audit and for what a build prints. It is immutable and safe for
// concurrent use; each stream gets its own [RedactWriter]. Like the
// detector, it skips values shorter than [MinValueLen].
type Redactor struct {
	k *knownSet
	// heads holds every prefix shorter than eight bytes of every form: a
	// stream ending in one must wait for more.
	heads map[string]bool
}

// NewRedactor compiles the values. The redactor keeps its own encoded
// copies; [Redactor.Zero] clears them.
func NewRedactor(values []Value) *Redactor {
	r := &Redactor{k: newKnownSet(values), heads: map[string]bool{}}
	for _, p := range r.k.patterns {
		for n := 1; n < 8 && n < len(p.text); n++ {
			r.heads[string(p.text[:n])] = true
		}
	}
	return r
}

// Zero overwrites the redactor's copies of the values; it redacts nothing
// afterwards.
func (r *Redactor) Zero() {
	k := r.k
	for i := range k.patterns {
		clear(k.patterns[i].text)
	}
	clear(k.table)
	k.patterns, k.heads = nil, nil
	clear(r.heads)
}

// Redact returns b with every form of every value replaced by
// "[REDACTED:NAME]".
func (r *Redactor) Redact(b []byte) []byte {
	var out bytes.Buffer
	w := r.Writer(&out)
	_, _ = w.Write(b)
	_ = w.Flush()
	return out.Bytes()
}

// Writer returns a writer that passes what is written to it on to w, with
// every form of every value replaced by "[REDACTED:NAME]", also where a
// value is split across writes: it holds back only the end of the stream
// that could still become a form of a value, until more arrives or
// [RedactWriter.Flush].
func (r *Redactor) Writer(w io.Writer) *RedactWriter {
	return &RedactWriter{r: r, w: w}
}

// RedactWriter is one stream of a [Redactor].
type RedactWriter struct {
	r   *Redactor
	w   io.Writer
	buf []byte
	err error
}

// Write redacts p into the stream. It reports len(p) written unless the
// underlying writer failed.
func (rw *RedactWriter) Write(p []byte) (int, error) {
	if rw.err != nil {
		return 0, rw.err
	}
	rw.buf = append(rw.buf, p...)
	rw.emit(false)
	if rw.err != nil {
		return 0, rw.err
	}
	return len(p), nil
}

// Flush writes what is held back, redacted.
func (rw *RedactWriter) Flush() error {
	if rw.err == nil {
		rw.emit(true)
	}
	return rw.err
}

// emit writes what no later byte can change, redacted, or all of buf at
// the end; the rest stays in buf. Matches are leftmost-longest and do not
// overlap: at a position where a longer form could still complete, the
// stream waits.
func (rw *RedactWriter) emit(final bool) {
	k := rw.r.k
	safe := len(rw.buf) - k.maxLen // from here on, a form may run past the end
	var out []byte
	start := 0 // first byte not yet written
	i := 0
	for ; i < len(rw.buf); i++ {
		if !final && i > safe && rw.r.pending(rw.buf[i:]) {
			break
		}
		best := k.longest(rw.buf[i:])
		if best == nil {
			continue
		}
		out = append(out, rw.buf[start:i]...)
		out = append(out, "[REDACTED:"+best.name+"]"...)
		i += len(best.text) - 1
		start = i + 1
	}
	if i > start {
		out = append(out, rw.buf[start:min(i, len(rw.buf))]...)
		start = min(i, len(rw.buf))
	}
	if len(out) > 0 {
		if _, err := rw.w.Write(out); err != nil {
			rw.err = err
		}
	}
	rest := copy(rw.buf, rw.buf[start:])
	clear(rw.buf[rest:])
	rw.buf = rw.buf[:rest]
}

// pending reports whether tail, the end of the stream, is a proper prefix
// of some form: more bytes could complete it.
func (r *Redactor) pending(tail []byte) bool {
	if len(tail) < 8 {
		return r.heads[string(tail)]
	}
	k := r.k
	if len(k.patterns) == 0 {
		return false
	}
	h := k.hash(binary.LittleEndian.Uint64(tail))
	if k.table[h>>6]&(1<<(h&63)) == 0 {
		return false
	}
	for _, i := range k.heads[h] {
		p := k.patterns[i].text
		if len(p) > len(tail) && string(p[:len(tail)]) == string(tail) {
			return true
		}
	}
	return false
}

// longest returns the longest pattern that starts at b[0], or nil.
func (k *knownSet) longest(b []byte) *pattern {
	if len(b) < 8 || len(k.patterns) == 0 {
		return nil
	}
	h := k.hash(binary.LittleEndian.Uint64(b))
	if k.table[h>>6]&(1<<(h&63)) == 0 {
		return nil
	}
	var best *pattern
	for _, i := range k.heads[h] {
		p := &k.patterns[i]
		if len(b) >= len(p.text) && string(b[:len(p.text)]) == string(p.text) && (best == nil || len(p.text) > len(best.text)) {
			best = p
		}
	}
	return best
}
