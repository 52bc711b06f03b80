package match

import (
	"bytes"
	"io"
	"sort"
)

// Redactor replaces values in text with "[REDACTED:NAME]": every form a
// [Matcher] searches ([NewRedactor]), or the values as they are
// ([NewRawRedactor]). It is immutable and safe for concurrent use; each
// stream gets its own [Writer].
//
// Matching is leftmost-longest; a pattern that starts inside a match and
// ends past it extends the match (overlapping values are redacted as one,
// under the longest one's name), so no byte of any value is left. The search is Wu-Manber
// style: a shift table over 2-byte blocks of the first m bytes of every
// pattern (m is the shortest pattern's length) lets the scan skip up to m-1
// bytes at a time, and only windows whose last block ends some pattern's
// m-prefix are verified. With the raw values alone it skips most bytes;
// with every form of every value (hundreds of patterns per value) it checks
// most positions, still faster than hashing every position.
type Redactor struct {
	pats   []rpattern
	m      int            // window: length of the shortest pattern, capped at 255
	maxLen int            // length of the longest pattern
	shift  [1 << 16]uint8 // bytes the window may move for its last block
	bucket [1 << 16]uint32
	cands  [][]int32 // bucket-1 → patterns whose m-prefix ends with the block
	first  [256][]int32
}

type rpattern struct {
	val  []byte
	repl []byte
}

// NewRedactor compiles every form (see [Forms]) of every value of at least
// [MinLen] bytes: the forms the audit searches an image for. Where two
// values share a form, the first one's name is used. The redactor keeps its
// own copies of the forms; [Redactor.Zero] clears them.
func NewRedactor(values []Value) *Redactor {
	var pats []Value
	for _, v := range values {
		if len(v.Value) < MinLen {
			continue
		}
		for _, p := range encodings(v.Value) {
			pats = append(pats, Value{Name: v.Name, Value: p.text})
		}
	}
	r := compileRedactor(pats, 1)
	for _, p := range pats {
		clear(p.Value)
	}
	return r
}

// NewRawRedactor compiles the values as they are; values shorter than
// minLen bytes are ignored (minLen is at least 2). Where two values are
// equal, the first one's name is used. The redactor keeps its own copies of
// the values; [Redactor.Zero] clears them.
func NewRawRedactor(values []Value, minLen int) *Redactor {
	return compileRedactor(values, max(minLen, 2))
}

func compileRedactor(values []Value, minLen int) *Redactor {
	mt := &Redactor{}
	seen := map[string]bool{}
	for _, s := range values {
		if len(s.Value) < minLen || seen[string(s.Value)] {
			continue
		}
		seen[string(s.Value)] = true
		mt.pats = append(mt.pats, rpattern{
			val:  bytes.Clone(s.Value),
			repl: []byte("[REDACTED:" + s.Name + "]"),
		})
	}
	// Longer patterns first, so that among candidates at one position the
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
			mt.bucket[blk] = uint32(len(mt.cands))
		}
		b := mt.bucket[blk] - 1
		mt.cands[b] = append(mt.cands[b], int32(pi))
		mt.first[p.val[0]] = append(mt.first[p.val[0]], int32(pi))
	}
	return mt
}

// Len returns the number of patterns (values, or forms of values) the
// redactor replaces.
func (mt *Redactor) Len() int { return len(mt.pats) }

// Zero overwrites the redactor's copies of the values; it redacts nothing
// afterwards.
func (mt *Redactor) Zero() {
	for i := range mt.pats {
		clear(mt.pats[i].val)
	}
	mt.pats = nil
}

// Writer returns a streaming redactor that writes to w.
func (mt *Redactor) Writer(w io.Writer) *Writer {
	return &Writer{mt: mt, w: w}
}

// Redact returns b with every pattern replaced.
func (mt *Redactor) Redact(b []byte) []byte {
	var out bytes.Buffer
	w := mt.Writer(&out)
	_, _ = w.Write(b)
	_ = w.Flush()
	return out.Bytes()
}

// match is the result of looking at one window position.
const (
	noMatch = iota
	fullMatch
	pending // a pattern may start here and continue past the end of the data
)

// at reports what starts at text[i], given that the window text[i:i+m]
// ends with a candidate block. With final set, nothing is pending.
func (mt *Redactor) at(text []byte, i int, cands []int32, final bool) (kind int, pat int) {
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

// extend grows the match of pattern pi at text[start:] over every pattern
// that starts inside it and ends past it (two values that overlap, such as
// "abcd1234" and "1234wxyz" in "abcd1234wxyz"), so that no part of either
// is left in the output. It returns the end of the merged match and the
// longest pattern in it (whose name the replacement takes); more reports
// that, without final, a pattern starting inside could continue past the
// end of text: the caller must wait for more input.
func (mt *Redactor) extend(text []byte, start, pi int, final bool) (end, longest int, more bool) {
	end, longest = start+len(mt.pats[pi].val), pi
	for j := start + 1; j < end; j++ {
		for _, qi := range mt.first[text[j]] {
			v := mt.pats[qi].val
			if j+len(v) <= end {
				continue // inside the match already
			}
			rest := text[j:]
			if len(rest) >= len(v) {
				if bytes.Equal(rest[:len(v)], v) {
					end = j + len(v)
					if len(v) > len(mt.pats[longest].val) {
						longest = int(qi)
					}
				}
				continue
			}
			if !final && bytes.Equal(rest, v[:len(rest)]) {
				return 0, 0, true
			}
		}
	}
	return end, longest, false
}

// tailHold returns how many bytes at the end of text (shorter than the
// window) are a proper prefix of some pattern and must wait for more input.
func (mt *Redactor) tailHold(text []byte) int {
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

// Writer is an io.Writer that replaces every pattern of its [Redactor] with
// "[REDACTED:NAME]" before writing to the underlying writer, including
// patterns split across writes. It holds back only the shortest tail of the
// output that could still turn into a pattern (at most the longest pattern
// minus one byte); everything before it is written at once, so a prompt
// without a newline still appears. Call [Writer.Flush] at the end of the
// stream. After the underlying writer fails, every call returns its error.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	mt   *Redactor
	w    io.Writer
	held []byte
	out  []byte
	err  error
}

// Write redacts p and writes what is certain to the underlying writer. It
// returns len(p) unless the underlying writer fails.
func (r *Writer) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.mt.pats) == 0 && len(r.held) == 0 {
		n, err := r.w.Write(p)
		r.err = err
		return n, err
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
		k := copy(r.held, rest)
		clear(r.held[k:])
		r.held = r.held[:k]
	} else {
		r.held = append(r.held[:0], rest...)
	}
	if err != nil {
		r.err = err
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back, with complete patterns replaced. Call it
// when the stream ends.
func (r *Writer) Flush() error {
	if r.err != nil || len(r.held) == 0 {
		return r.err
	}
	_, err := r.process(r.held, true)
	clear(r.held)
	r.held = r.held[:0]
	r.err = err
	return err
}

// process writes data up to the first byte that must be held back and
// returns its index.
func (r *Writer) process(data []byte, final bool) (int, error) {
	mt := r.mt
	if len(mt.pats) == 0 {
		// Zeroed while bytes were held: nothing matches any more.
		_, err := r.w.Write(data)
		return len(data), err
	}
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
		if kind == fullMatch {
			end, longest, more := mt.extend(data, start, pi, final)
			if more {
				hold = start // an overlapping value may continue past the data
				break
			}
			r.out = append(r.out, data[last:start]...)
			r.out = append(r.out, mt.pats[longest].repl...)
			last = end
			pos = last + m - 1
			continue
		}
		if kind == pending {
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
