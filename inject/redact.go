package inject

import (
	"bytes"
	"io"
	"sort"

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
// Matching is leftmost-longest and non-overlapping. The search is Wu-Manber
// style: a shift table over 2-byte blocks of the first m bytes of every value
// (m is the shortest value length) lets the scan skip up to m-1 bytes at a
// time, and only windows whose last block ends some value's m-prefix are
// verified.
type Matcher struct {
	pats   []pattern
	m      int            // window: length of the shortest value, capped at 255
	maxLen int            // length of the longest value
	shift  [1 << 16]uint8 // bytes the window may move for its last block
	bucket [1 << 16]uint16
	cands  [][]int32 // bucket-1 → patterns whose m-prefix ends with the block
	first  [256][]int32
}

type pattern struct {
	val  []byte
	repl []byte
}

// NewMatcher compiles the values to redact. Values shorter than
// [MinRedactLen] are ignored; duplicates keep the first name. The matcher
// keeps its own copies of the values; [Matcher.Zero] clears them.
func NewMatcher(secrets []Secret) *Matcher {
	mt := &Matcher{}
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s.Value) < MinRedactLen || seen[string(s.Value)] {
			continue
		}
		seen[string(s.Value)] = true
		mt.pats = append(mt.pats, pattern{
			val:  bytes.Clone(s.Value),
			repl: []byte("[REDACTED:" + s.Name + "]"),
		})
	}
	// Longer values first, so that among candidates at one position the
	// first full match is the longest.
	sort.SliceStable(mt.pats, func(i, j int) bool { return len(mt.pats[i].val) > len(mt.pats[j].val) })
	if len(mt.pats) == 0 {
		return mt
	}
	mt.m = 255
	for _, p := range mt.pats {
		mt.m = min(mt.m, len(p.val))
		mt.maxLen = max(mt.maxLen, len(p.val))
	}
	m := mt.m
	for i := range mt.shift {
		mt.shift[i] = uint8(m - 1)
	}
	for pi, p := range mt.pats {
		for j := 1; j < m; j++ {
			blk := uint16(p.val[j-1])<<8 | uint16(p.val[j])
			if s := uint8(m - 1 - j); s < mt.shift[blk] {
				mt.shift[blk] = s
			}
		}
		blk := uint16(p.val[m-2])<<8 | uint16(p.val[m-1])
		if mt.bucket[blk] == 0 {
			mt.cands = append(mt.cands, nil)
			mt.bucket[blk] = uint16(len(mt.cands))
		}
		b := mt.bucket[blk] - 1
		mt.cands[b] = append(mt.cands[b], int32(pi))
		mt.first[p.val[0]] = append(mt.first[p.val[0]], int32(pi))
	}
	return mt
}

// Len returns the number of values the matcher redacts.
func (mt *Matcher) Len() int { return len(mt.pats) }

// Zero overwrites the matcher's copies of the values. The matcher must not be
// used afterwards.
func (mt *Matcher) Zero() {
	for i := range mt.pats {
		clear(mt.pats[i].val)
	}
}

// Writer returns a streaming redactor that writes to w.
func (mt *Matcher) Writer(w io.Writer) *Redactor {
	return &Redactor{mt: mt, w: w}
}

// match is the result of looking at one window position.
const (
	noMatch = iota
	fullMatch
	pending // a value may start here and continue past the end of the data
)

// at reports what starts at text[i], given that the window text[i:i+m]
// ends with a candidate block. With final set, nothing is pending.
func (mt *Matcher) at(text []byte, i int, cands []int32, final bool) (kind int, pat int) {
	rest := text[i:]
	for _, pi := range cands { // longest first
		v := mt.pats[pi].val
		if len(rest) >= len(v) {
			if bytes.Equal(rest[:len(v)], v) {
				return fullMatch, int(pi)
			}
			continue
		}
		if !final && bytes.Equal(rest, v[:len(rest)]) {
			return pending, 0
		}
	}
	return noMatch, 0
}

// tailHold returns how many bytes at the end of text (shorter than the
// window) are a proper prefix of some value and must wait for more input.
func (mt *Matcher) tailHold(text []byte) int {
	for k := min(len(text), mt.m-1); k > 0; k-- {
		suf := text[len(text)-k:]
		for _, pi := range mt.first[suf[0]] {
			if bytes.HasPrefix(mt.pats[pi].val, suf) {
				return k
			}
		}
	}
	return 0
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
	mt   *Matcher
	w    io.Writer
	held []byte
	out  []byte
}

// Write redacts p and writes what is certain to the underlying writer. It
// returns len(p) unless the underlying writer fails.
func (r *Redactor) Write(p []byte) (int, error) {
	if len(r.mt.pats) == 0 {
		return r.w.Write(p)
	}
	data := p
	if len(r.held) > 0 {
		r.held = append(r.held, p...)
		data = r.held
	}
	n, err := r.process(data, false)
	// Keep data[n:] for the next write.
	rest := data[n:]
	if len(r.held) > 0 {
		r.held = r.held[:copy(r.held, rest)]
	} else {
		r.held = append(r.held[:0], rest...)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back, with complete values replaced. Call it when
// the stream ends.
func (r *Redactor) Flush() error {
	if len(r.held) == 0 {
		return nil
	}
	_, err := r.process(r.held, true)
	clear(r.held)
	r.held = r.held[:0]
	return err
}

// process writes data up to the first byte that must be held back and
// returns its index.
func (r *Redactor) process(data []byte, final bool) (int, error) {
	mt := r.mt
	m := mt.m
	last := 0 // start of the data not yet written
	r.out = r.out[:0]
	hold := -1
	pos := last + m - 1
	for pos < len(data) {
		blk := uint16(data[pos-1])<<8 | uint16(data[pos])
		if s := mt.shift[blk]; s != 0 {
			pos += int(s)
			continue
		}
		start := pos - m + 1
		b := mt.bucket[blk]
		if b == 0 {
			pos++
			continue
		}
		kind, pi := mt.at(data, start, mt.cands[b-1], final)
		switch kind {
		case fullMatch:
			r.out = append(r.out, data[last:start]...)
			r.out = append(r.out, mt.pats[pi].repl...)
			last = start + len(mt.pats[pi].val)
			pos = last + m - 1
			continue
		case pending:
			hold = start
		}
		if hold >= 0 {
			break
		}
		pos++
	}
	if hold < 0 {
		if final {
			hold = len(data)
		} else {
			hold = len(data) - mt.tailHold(data[last:])
		}
	}
	var err error
	if len(r.out) == 0 {
		if hold > 0 {
			_, err = r.w.Write(data[:hold])
		}
	} else {
		r.out = append(r.out, data[last:hold]...)
		_, err = r.w.Write(r.out)
	}
	return hold, err
}
