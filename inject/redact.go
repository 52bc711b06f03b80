package inject

import (
	"io"

	"github.com/sealenv/sealenv/internal/match"
	"github.com/sealenv/sealenv/seal"
)

// MinRedactLen is the shortest value a [Redactor] replaces. Shorter values
// ("1", "on", "dev") would turn every log line into noise and hide nothing
// worth hiding; they pass through unchanged.
const MinRedactLen = 4

// Secret is a named value to redact: a sealed bundle's value.
type Secret = seal.Secret

// Matcher finds sealed values in byte streams. It is immutable and safe for
// concurrent use; each stream gets its own [Redactor] from [Matcher.Writer].
//
// It is the redactor of package internal/match, which the audit and the
// build use on every encoded form of a value, here on the raw values only:
// every form of a hundred values is tens of thousands of patterns, which
// brings the throughput far below the injector's 1 GB/s target (and the
// forms themselves the size of the injector up). Matching is
// leftmost-longest and non-overlapping.
type Matcher struct {
	r *match.Redactor
}

// NewMatcher compiles the values to redact. Values shorter than
// [MinRedactLen] are ignored; duplicates keep the first name. The matcher
// keeps its own copies of the values; [Matcher.Zero] clears them.
func NewMatcher(secrets []Secret) *Matcher {
	values := make([]match.Value, len(secrets))
	for i, s := range secrets {
		values[i] = match.Value(s)
	}
	return &Matcher{r: match.NewRawRedactor(values, MinRedactLen)}
}

// Len returns the number of values the matcher redacts.
func (mt *Matcher) Len() int { return mt.r.Len() }

// Zero overwrites the matcher's copies of the values. The matcher must not be
// used afterwards.
func (mt *Matcher) Zero() { mt.r.Zero() }

// Writer returns a streaming redactor that writes to w.
func (mt *Matcher) Writer(w io.Writer) *Redactor {
	return &Redactor{w: mt.r.Writer(w)}
}

// Redactor is an io.Writer that replaces every value of its [Matcher] with
// "[REDACTED:NAME]" before writing to the underlying writer, including values
// split across writes. It holds back only the shortest tail of the output that
// could still turn into a value (at most the longest value minus one byte);
// everything before it is written at once, so a prompt without a newline
// still appears. Call [Redactor.Flush] at the end of the stream.
//
// A Redactor is not safe for concurrent use.
type Redactor struct {
	w *match.Writer
}

// Write redacts p and writes what is certain to the underlying writer. It
// returns len(p) unless the underlying writer fails.
func (r *Redactor) Write(p []byte) (int, error) { return r.w.Write(p) }

// Flush writes what is held back, with complete values replaced. Call it when
// the stream ends.
func (r *Redactor) Flush() error { return r.w.Flush() }
