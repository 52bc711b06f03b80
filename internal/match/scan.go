package match

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// Matcher is the compiled, read-only state shared by every [Scanner]: the
// forms of the known values, the rules' keywords and a prefilter over them,
// so that the common byte costs one table lookup. It is safe for
// concurrent use.
type Matcher struct {
	known    *knownSet
	keywords []keyword
	kwHeads  [][]int32       // folded two-byte prefix -> keywords
	pre      [1024]uint64    // keywords: bitset over a chosen pair of two-byte grams
	kOff     [1 << 16]uint8  // keywords: for a gram, the offsets it has in its keywords
	pre4     [1 << 11]uint64 // keywords: bitset over a hash of the first four bytes
	known4   []uint64        // known values: bitset over a hash of their first 4-grams
	back     int             // bytes a match may start before its keyword
	fwd      int             // bytes a match may extend after its start
	confirm  Confirmer
	prints   Prints       // values found by their fingerprints, or nil
	skipped  atomic.Int64 // matches the confirmer said to count, not report
}

// Prints finds known values without their forms (the audit's salted
// fingerprints, when it has no identity): it is given every range a
// [Scanner] searches, beside the forms it knows.
type Prints interface {
	// Search calls found for every match that starts in b[from:to], with
	// the value's name and the form's encoding; b beyond to is context.
	Search(b []byte, from, to int, found func(name, encoding string, at, length int))
	// MaxLen is the longest match Search reports.
	MaxLen() int
	// Digest identifies the values Search finds: it joins the matcher's
	// [Matcher.Digest], so that a verdict cached for one set of
	// fingerprints is not given back for another.
	Digest() [32]byte
}

// WithPrints returns d searching also with p: every range its scanners
// search is given to p, and p's matches are hits of known values. Call it
// before any scanner is made.
func (d *Matcher) WithPrints(p Prints) *Matcher {
	d.prints = p
	if n := p.MaxLen(); n > d.fwd {
		d.fwd = n
	}
	return d
}

// Keyword is where a rule may match: a rule is tried only around one of
// its keywords (three bytes or more).
type Keyword struct {
	Text string
	Fold bool // matched without regard to ASCII case
	// Rule names the rule to the [Confirmer] and in a [Hit].
	Rule int
	// Before is how far before the keyword a match may start; After how
	// far after the keyword's end it may end.
	Before, After int
}

// Confirmer decides whether a rule matches where one of its keywords was
// found: package match knows keywords, the confirmer the rule (a regular
// expression, an entropy threshold).
type Confirmer interface {
	// Confirm appends to dst the matches of rule in win, the bytes where
	// one may be; the keyword starts at win[at:]. It may be called from
	// several goroutines at once.
	Confirm(rule int, win []byte, at int, dst []Match) []Match
}

// Match is a rule's match in a window given to [Confirmer.Confirm].
type Match struct {
	Start, End int // the bounds of the whole match in the window
	// Skip says the match is counted ([Matcher.Skipped]) but not
	// reported: a secret that is published on purpose.
	Skip bool
}

type keyword struct {
	text   []byte // lower case when fold is set
	rule   int
	fold   bool // matched without regard to ASCII case
	before int
	after  int
}

func fold(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// New compiles the values (every form of each, see [Forms]; values shorter
// than [MinLen] are not searched) and the keywords, whose rules c
// confirms. Keywords are tried in the order given.
func New(values []Value, keywords []Keyword, c Confirmer) *Matcher {
	d := &Matcher{known: newKnownSet(values), kwHeads: make([][]int32, 1<<16), confirm: c}
	set := func(a, b byte, off int) {
		g := uint16(a) | uint16(b)<<8
		d.pre[g>>6] |= 1 << (g & 63)
		d.kOff[g] |= 1 << off
	}
	set4 := func(b []byte) {
		h := hash4(binary.LittleEndian.Uint32(b))
		d.pre4[h>>6] |= 1 << (h & 63)
	}
	// Known values are at least eight bytes: the 4-grams at offsets 0 to 3
	// cover them when every fourth position is sampled.
	d.known4 = make([]uint64, 1<<knownBits/64)
	for _, p := range d.known.patterns {
		for o := 0; o < 4; o++ {
			h := hashK(binary.LittleEndian.Uint32(p.text[o:]))
			d.known4[h>>6] |= 1 << (h & 63)
		}
	}
	d.fwd = d.known.maxLen
	for _, k := range keywords {
		ci := k.Fold
		kw := keyword{text: []byte(k.Text), rule: k.Rule, fold: ci, before: k.Before, after: k.After}
		if ci {
			kw.text = bytes.ToLower(kw.text)
		}
		o0 := gramOffset(kw.text, ci)
		for o := o0; o < o0+2; o++ {
			for _, x := range caseVariants(kw.text[o], ci) {
				for _, y := range caseVariants(kw.text[o+1], ci) {
					set(x, y, o)
				}
			}
		}
		for _, v := range variants4(kw.text, ci) {
			set4(v)
		}
		g := uint16(fold(kw.text[0])) | uint16(fold(kw.text[1]))<<8
		d.kwHeads[g] = append(d.kwHeads[g], int32(len(d.keywords)))
		d.keywords = append(d.keywords, kw)
		if n := len(kw.text) + k.After; n > d.fwd {
			d.fwd = n
		}
		if k.Before > d.back {
			d.back = k.Before
		}
	}
	return d
}

// Short returns the indexes, in the values given to [New], of the values
// that are not searched for being shorter than [MinLen] (empty ones aside).
func (d *Matcher) Short() []int { return d.known.skipped }

// Skipped returns how many matches the confirmer said to count and not
// report, over every scanner of d.
func (d *Matcher) Skipped() int64 { return d.skipped.Load() }

func hash4(x uint32) uint32 { return (x * 0x9E3779B1) >> (32 - 17) }

const knownBits = 20

func hashK(x uint32) uint32 { return (x * 0x85EBCA6B) >> (32 - knownBits) }

// gramOffset picks where in a keyword its two sampled grams sit: the three
// bytes from k on with the most characters that are rare in text (not a
// lower-case letter, not a space), so that "github_pat_" is looked for by
// "b_p", not "git". k+2 must stay inside the keyword and k+1 below 8.
func gramOffset(kw []byte, fold bool) int {
	best, bestScore := 0, -1
	for k := 0; k+3 <= len(kw) && k <= 6; k++ {
		score := 0
		for _, c := range kw[k : k+3] {
			lower := 'a' <= c && c <= 'z' || fold && 'A' <= c && c <= 'Z'
			if !lower && c != ' ' && c != '/' {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = k, score
		}
	}
	return best
}

// variants4 lists every four-byte string a keyword can start with: its case
// variants, and for a three-byte keyword every fourth byte.
func variants4(kw []byte, fold bool) [][]byte {
	out := [][]byte{{}}
	for i := 0; i < 4; i++ {
		var opts []byte
		if i < len(kw) {
			opts = caseVariants(kw[i], fold)
		} else {
			for c := 0; c < 256; c++ {
				opts = append(opts, byte(c))
			}
		}
		var next [][]byte
		for _, p := range out {
			for _, c := range opts {
				next = append(next, append(append([]byte(nil), p...), c))
			}
		}
		out = next
	}
	return out
}

func caseVariants(c byte, fold bool) []byte {
	if fold && 'a' <= c && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// Hit is one match in a stream, before it gets a place: a known value's
// form, or a rule's match that its [Confirmer] accepted.
type Hit struct {
	// Rule is the [Keyword.Rule] of the rule that matched, or -1 for a
	// known value.
	Rule     int
	Name     string // the value's name, for a known value
	Encoding string // the value's form, for a known value
	Offset   int64
	Length   int // of the match
	// Preview is the match as [Preview] shows it: never the value.
	Preview string
}

// Known reports whether h is a known value's form (not a rule's match).
func (h Hit) Known() bool { return h.Rule < 0 }

// Scanner searches bytes with a [Matcher], whole ([Scanner.Bytes],
// [Scanner.Replace]) or as a stream written to it in pieces
// ([Scanner.Start], [Scanner.Write], [Scanner.Close]). It holds a stream's
// buffer and which rule matches it reported, so each goroutine needs its
// own.
type Scanner struct {
	m     *Matcher
	buf   []byte
	seen  map[seenKey]bool
	found []Match // the confirmer's matches, reused

	// A stream: sink gets its hits; end bytes are in buf, of which
	// unsearched starts begin at from; buf[0] is at offset base.
	sink Sink
	emit func(Hit) // s.hit, made once
	end  int
	from int
	base int64
}

type seenKey struct {
	rule  int
	start int64
}

const chunkSize = 1 << 20

// Scanner returns a new scanner; it allocates a stream's buffer only when
// it starts one.
func (m *Matcher) Scanner() *Scanner {
	s := &Scanner{m: m, seen: map[seenKey]bool{}}
	s.emit = s.hit
	return s
}

// Bytes searches b as one whole stream, and calls emit for every hit.
func (s *Scanner) Bytes(b []byte, emit func(Hit)) {
	clear(s.seen)
	s.scanRange(b, 0, 0, len(b), emit)
}

// scanRange checks every match start in b[from:to]; b beyond to is context.
//
// Two samplings decide where anything may start. Keywords (three bytes or
// more): every second position is looked up in a bit table of two-byte
// grams, chosen per keyword (see gramOffset), so one of a keyword's two
// grams always lies on a sampled position; a hit names the offsets its
// gram has, hence the candidate starts. Known values (eight bytes or more):
// every fourth position is looked up, by a hash of four bytes, in a table
// of each value's 4-grams at offsets 0 to 3.
func (s *Scanner) scanRange(b []byte, base int64, from, to int, emit func(Hit)) {
	d := s.m
	if to > len(b)-1 {
		to = len(b) - 1 // every pattern is at least two bytes
	}
	if from >= to {
		return
	}
	pre, known4 := &d.pre, d.known4
	hasKnown := len(d.known.patterns) > 0
	kw := func(p int) {
		for m := d.kOff[uint16(b[p])|uint16(b[p+1])<<8]; m != 0; m &= m - 1 {
			if st := p - bits.TrailingZeros8(m); st >= from && st < to {
				s.checkKeywords(b, base, st, emit)
			}
		}
	}
	kv := func(q int) {
		for o := 0; o < 4; o++ {
			if st := q - o; st >= from && st < to {
				s.checkKnown(b, base, st, emit)
			}
		}
	}
	zeroHit := pre[0]&1 != 0
	p := from
	// Sixteen bytes per round, without branches in the common case.
	for ; p+16 <= len(b) && p < to; p += 16 {
		v0 := binary.LittleEndian.Uint64(b[p:])
		v1 := binary.LittleEndian.Uint64(b[p+8:])
		if v0|v1 == 0 && !zeroHit {
			continue // zero padding and sparse holes: nothing starts here
		}
		var m uint64
		for k := 0; k < 4; k++ {
			g := uint16(v0 >> (16 * k))
			m |= (pre[g>>6] >> (g & 63) & 1) << k
			g = uint16(v1 >> (16 * k))
			m |= (pre[g>>6] >> (g & 63) & 1) << (k + 4)
		}
		for ; m != 0; m &= m - 1 {
			kw(p + 2*bits.TrailingZeros64(m))
		}
		if hasKnown {
			h0 := hashK(uint32(v0))
			h1 := hashK(uint32(v0 >> 32))
			h2 := hashK(uint32(v1))
			h3 := hashK(uint32(v1 >> 32))
			k := known4[h0>>6]>>(h0&63)&1 | (known4[h1>>6]>>(h1&63)&1)<<1 |
				(known4[h2>>6]>>(h2&63)&1)<<2 | (known4[h3>>6]>>(h3&63)&1)<<3
			for ; k != 0; k &= k - 1 {
				kv(p + 4*bits.TrailingZeros64(k))
			}
		}
	}
	if d.prints != nil {
		d.prints.Search(b, from, to, func(name, enc string, at, n int) {
			emit(Hit{Rule: -1, Name: name, Encoding: enc, Offset: base + int64(at), Length: n, Preview: Preview(b[at : at+n])})
		})
	}
	// The tail, where fewer than sixteen bytes are left: samples go on
	// past to, because a gram may sit up to seven bytes into its keyword.
	for q := p; q < to+8 && q+1 < len(b); q += 2 {
		g := uint16(b[q]) | uint16(b[q+1])<<8
		if pre[g>>6]&(1<<(g&63)) != 0 {
			kw(q)
		}
	}
	if hasKnown {
		for q := p; q < to+3 && q+4 <= len(b); q += 4 {
			h := hashK(binary.LittleEndian.Uint32(b[q:]))
			if known4[h>>6]&(1<<(h&63)) != 0 {
				kv(q)
			}
		}
	}
}

// checkKeywords filters a keyword candidate by four bytes, then compares
// the keywords that start with its two bytes.
func (s *Scanner) checkKeywords(b []byte, base int64, i int, emit func(Hit)) {
	d := s.m
	if i+4 <= len(b) {
		h := hash4(binary.LittleEndian.Uint32(b[i:]))
		if d.pre4[h>>6]&(1<<(h&63)) == 0 {
			return
		}
	}
	if i+1 >= len(b) {
		return
	}
	g := uint16(fold(b[i])) | uint16(fold(b[i+1]))<<8
	for _, ki := range d.kwHeads[g] {
		kw := &d.keywords[ki]
		if len(b)-i < len(kw.text) {
			continue
		}
		if kw.fold && !equalFold(b[i:i+len(kw.text)], kw.text) || !kw.fold && !bytes.Equal(b[i:i+len(kw.text)], kw.text) {
			continue
		}
		s.runRule(b, base, i, kw, emit)
	}
}

// checkKnown verifies the sealed values that may start at b[i].
func (s *Scanner) checkKnown(b []byte, base int64, i int, emit func(Hit)) {
	var lastName string
	s.m.known.match(b[i:], func(p *pattern) {
		if p.name == lastName {
			return // one finding per value and position
		}
		lastName = p.name
		emit(Hit{Rule: -1, Name: p.name, Encoding: p.encoding, Offset: base + int64(i), Length: len(p.text), Preview: Preview(p.text)})
	})
}

func equalFold(b, lower []byte) bool {
	for j, c := range b {
		if fold(c) != lower[j] {
			return false
		}
	}
	return true
}

// runRule asks the confirmer for the matches of the keyword's rule around
// b[i], where the keyword starts, and reports each new one once.
func (s *Scanner) runRule(b []byte, base int64, i int, kw *keyword, emit func(Hit)) {
	if s.m.confirm == nil {
		return
	}
	lo := max(i-kw.before, 0)
	hi := min(i+len(kw.text)+kw.after, len(b))
	win := b[lo:hi]
	s.found = s.m.confirm.Confirm(kw.rule, win, i-lo, s.found[:0])
	for _, m := range s.found {
		start := base + int64(lo+m.Start)
		k := seenKey{rule: kw.rule, start: start}
		if s.seen[k] {
			continue
		}
		s.seen[k] = true
		if m.Skip {
			s.m.skipped.Add(1)
			continue
		}
		emit(Hit{Rule: kw.rule, Offset: start, Length: m.End - m.Start, Preview: Preview(win[m.Start:m.End])})
	}
}

// Preview returns what may be shown of a match: at most an eighth of it
// (and never more than four bytes), with unprintable bytes as dots, and its
// length. It is the one function through which anything that prints a
// match shows it.
func Preview(b []byte) string {
	show := min(len(b)/8, 4)
	var out []byte
	for _, c := range b[:show] {
		if c < 0x20 || c >= 0x7f {
			c = '.'
		}
		out = append(out, c)
	}
	out = append(out, "****"...)
	return string(out) + " (" + itoa(len(b)) + " bytes)"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
