package audit

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"sync/atomic"

	"github.com/sealenv/sealenv/audit/rules"
)

// detectors is the compiled, read-only state shared by every scanner: the
// known values, the rules and a prefilter over the first two bytes of every
// pattern and keyword, so that the common byte costs one table lookup.
type detectors struct {
	known    *knownSet
	rules    []*rules.Rule
	keywords []keyword
	kwHeads  [][]int32       // folded two-byte prefix -> keywords
	pre      [1024]uint64    // keywords: bitset over a chosen pair of two-byte grams
	kOff     [1 << 16]uint8  // keywords: for a gram, the offsets it has in its keywords
	pre4     [1 << 11]uint64 // keywords: bitset over a hash of the first four bytes
	known4   []uint64        // known values: bitset over a hash of their first 4-grams
	back     int             // bytes a match may start before its keyword
	fwd      int             // bytes a match may extend after its start
	sealed   map[string]bool
	public   map[string]string // fingerprints of published secrets
	skipped  atomic.Int64      // matches of published secrets not reported
}

type keyword struct {
	text []byte // lower case when fold is set
	rule int
	fold bool // matched without regard to ASCII case
}

func fold(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func newDetectors(values []Value, rs []*rules.Rule, sealedNames []string) *detectors {
	d := &detectors{known: newKnownSet(values), rules: rs, kwHeads: make([][]int32, 1<<16), sealed: map[string]bool{}}
	for _, n := range sealedNames {
		d.sealed[n] = true
	}
	for _, v := range values {
		d.sealed[v.Name] = true
	}
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
	for ri, r := range rs {
		ci := strings.HasPrefix(r.Regex.String(), "(?i)")
		for _, k := range r.Keywords {
			kw := keyword{text: []byte(k), rule: ri, fold: ci}
			if ci {
				kw.text = bytes.ToLower(kw.text)
			}
			k := gramOffset(kw.text, ci)
			for o := k; o < k+2; o++ {
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
			if n := len(kw.text) + r.MaxLen; n > d.fwd {
				d.fwd = n
			}
		}
		if r.Before > d.back {
			d.back = r.Before
		}
	}
	return d
}

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

// hit is one raw detector match in a stream, before it gets a location.
type hit struct {
	kind     string // known-value or rule
	rule     *rules.Rule
	name     string // sealed key name, for known values
	encoding string
	offset   int64
	length   int // of the match
	preview  string
}

// scanner searches streams with the detectors. It owns a buffer, so each
// worker has its own.
type scanner struct {
	d    *detectors
	buf  []byte
	seen map[seenKey]bool
}

type seenKey struct {
	rule  int
	start int64
}

const chunkSize = 1 << 20

func newScanner(d *detectors) *scanner {
	n := chunkSize + 4*(d.fwd+d.back)
	return &scanner{d: d, buf: make([]byte, n), seen: map[seenKey]bool{}}
}

// scanBytes searches b as one whole stream.
func (s *scanner) scanBytes(b []byte, emit func(hit)) {
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
func (s *scanner) scanRange(b []byte, base int64, from, to int, emit func(hit)) {
	d := s.d
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
func (s *scanner) checkKeywords(b []byte, base int64, i int, emit func(hit)) {
	d := s.d
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
func (s *scanner) checkKnown(b []byte, base int64, i int, emit func(hit)) {
	var lastName string
	s.d.known.match(b[i:], func(p *pattern) {
		if p.name == lastName {
			return // one finding per value and position
		}
		lastName = p.name
		emit(hit{kind: kindKnown, name: p.name, encoding: p.encoding, offset: base + int64(i), length: len(p.text), preview: mask(p.text)})
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

func (s *scanner) runRule(b []byte, base int64, i int, kw *keyword, emit func(hit)) {
	r := s.d.rules[kw.rule]
	lo := max(i-r.Before, 0)
	hi := min(i+len(kw.text)+r.MaxLen, len(b))
	win := b[lo:hi]
	for _, req := range r.Requires {
		if !bytes.Contains(b[i:hi], []byte(req)) {
			return
		}
	}
	for _, m := range r.Regex.FindAllSubmatchIndex(win, -1) {
		start := base + int64(lo+m[0])
		k := seenKey{rule: kw.rule, start: start}
		if s.seen[k] {
			continue
		}
		g := r.SecretGroup
		if m[2*g] < 0 {
			continue
		}
		secret := win[m[2*g]:m[2*g+1]]
		if !r.Accept(secret) {
			continue
		}
		if len(s.d.public) > 0 && s.d.public[rules.Fingerprint(secret)] != "" {
			s.seen[k] = true
			s.d.skipped.Add(1)
			continue
		}
		s.seen[k] = true
		emit(hit{kind: kindRule, rule: r, offset: start, length: m[1] - m[0], preview: mask(win[m[0]:m[1]])})
	}
}

// mask returns a preview of a match that shows at most an eighth of it (and
// never more than four bytes), with unprintable bytes as dots.
func mask(b []byte) string {
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
