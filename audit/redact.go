package audit

import (
	"io"

	"github.com/sealenv/sealenv/internal/match"
)

// Redactor replaces, in text, every form of the sealed values that the
// known-value detector searches an image for (raw, hex, base64 at every
// alignment and wrapped, URL, JSON, HTML and UTF-16 escapes): one matcher
// (package internal/match, the injector's too) for the audit and for what a
// build prints. It is immutable and safe for concurrent use; each stream
// gets its own [RedactWriter]. Like the detector, it skips values shorter
// than [MinValueLen].
type Redactor struct {
	r *match.Redactor
}

// NewRedactor compiles the values. The redactor keeps its own encoded
// copies; [Redactor.Zero] clears them.
func NewRedactor(values []Value) *Redactor {
	return &Redactor{r: match.NewRedactor(matchValues(values))}
}

// Zero overwrites the redactor's copies of the values; it redacts nothing
// afterwards.
func (r *Redactor) Zero() { r.r.Zero() }

// Redact returns b with every form of every value replaced by
// "[REDACTED:NAME]".
func (r *Redactor) Redact(b []byte) []byte { return r.r.Redact(b) }

// Writer returns a writer that passes what is written to it on to w, with
// every form of every value replaced by "[REDACTED:NAME]", also where a
// value is split across writes: it holds back only the end of the stream
// that could still become a form of a value, until more arrives or
// [RedactWriter.Flush].
func (r *Redactor) Writer(w io.Writer) *RedactWriter {
	return &RedactWriter{w: r.r.Writer(w)}
}

// RedactWriter is one stream of a [Redactor].
type RedactWriter struct {
	w *match.Writer
}

// Write redacts p into the stream. It reports len(p) written unless the
// underlying writer failed.
func (rw *RedactWriter) Write(p []byte) (int, error) { return rw.w.Write(p) }

// Flush writes what is held back, redacted.
func (rw *RedactWriter) Flush() error { return rw.w.Flush() }
