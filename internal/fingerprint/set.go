package fingerprint

import (
	"crypto/sha256"
	"fmt"
	"math/bits"
	"slices"
	"sort"
)

// Bundle is what a search needs of one bundle: its salt and the Print of
// each value, by name.
type Bundle struct {
	// Path names the bundle in findings and errors.
	Path   string
	Salt   Salt
	Prints map[string]string
}

// Hit is a confirmed match: a form of a named value at an offset.
type Hit struct {
	Bundle, Name, Encoding string
	Offset, Length         int
}

// Set is the prints of bundles, compiled for [Set.Search].
//
// Its memory: per bundle, two bit tables of 2^[PrefilterBits] bits (2 MiB
// each) and a coarse table of 32 KiB; per value, about 15 forms of 28 bytes
// and about 105 prefilter entries of 8 bytes (about 1.3 KB a value, 13 MB
// for 10,000 values). A search allocates nothing but its hits.
type Set struct {
	salts  []saltSet
	digest [32]byte
	values int
	names  []string // of the values, sorted, each once
	min    int      // shortest form length
	max    int      // longest match
}

// saltSet is the prints of one bundle (one salt). Prefilters of the forms
// (plain) and of wrapped windows (whose first Window bytes hold a line
// break) have tables of their own: a window with no line break is looked
// up in the plain table only.
type saltSet struct {
	bundle string
	salt   Salt
	roll   roller
	out    [256]uint64 // mersenne61 - c*top: the hash of byte c leaving the window, to add
	plain  table
	wrap   table
	coarse *[1 << coarseBits / 64]uint64 // the coarse bits of both tables
	names  []string
	forms  []form
}

// table is a bit per prefilter value, a coarse bit per value of its top
// coarseBits bits (a table the cache holds), and the entries sorted by
// prefilter.
type table struct {
	bits    *[1 << PrefilterBits / 64]uint64
	coarse  *[1 << coarseBits / 64]uint64
	entries []tableEntry
}

type tableEntry struct {
	prefilter uint32
	form      int32 // index into saltSet.forms
}

const coarseBits = 18

// form is one form of a value: its encoding, its length and its
// confirming digest.
type form struct {
	name     int32 // index into saltSet.names
	encoding uint8 // index into encodings
	length   int32
	confirm  [ConfirmBytes]byte
}

func newTable() table {
	return table{bits: new([1 << PrefilterBits / 64]uint64), coarse: new([1 << coarseBits / 64]uint64)}
}

func (t *table) add(p uint32, f int) {
	t.bits[p/64] |= 1 << (p % 64)
	c := p >> (PrefilterBits - coarseBits)
	t.coarse[c/64] |= 1 << (c % 64)
	t.entries = append(t.entries, tableEntry{p, int32(f)})
}

// lookup returns the entries of prefilter p.
func (t *table) lookup(p uint32) []tableEntry {
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].prefilter >= p })
	j := i
	for j < len(t.entries) && t.entries[j].prefilter == p {
		j++
	}
	return t.entries[i:j]
}

// NewSet compiles the prints of bundles. A malformed print is an error
// naming its bundle and key.
func NewSet(bundles []Bundle) (*Set, error) {
	s := &Set{min: -1}
	d := sha256.New()
	fmt.Fprintf(d, "sealenv fingerprint set v%d\x00", Version)
	for _, b := range bundles {
		ss := saltSet{bundle: b.Path, salt: b.Salt, roll: newRoller(b.Salt), plain: newTable(), wrap: newTable()}
		for c := range ss.out {
			ss.out[c] = mersenne61 - mulmod(uint64(c), ss.roll.top)
		}
		names := make([]string, 0, len(b.Prints))
		for n := range b.Prints {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(d, "%s\x00%x\x00", b.Path, b.Salt[:])
		for _, n := range names {
			es, err := parse(b.Prints[n])
			if err != nil {
				return nil, fmt.Errorf("%s: key %s: %w", b.Path, n, err)
			}
			fmt.Fprintf(d, "%s\x00%s\x00", n, b.Prints[n])
			s.values++
			s.names = append(s.names, n)
			ss.names = append(ss.names, n)
			first := len(ss.forms) // the form of entry k is first+k (forms come first)
			for _, e := range es {
				if e.wrapped {
					ss.wrap.add(e.prefilter, first+e.ref)
					s.max = max(s.max, wrappedSpan(es[e.ref].length))
					continue
				}
				f := form{name: int32(len(ss.names) - 1), encoding: uint8(indexOf(e.encoding)), length: int32(e.length), confirm: e.confirm}
				ss.forms = append(ss.forms, f)
				ss.plain.add(e.prefilter, len(ss.forms)-1)
				if s.min < 0 || e.length < s.min {
					s.min = e.length
				}
				s.max = max(s.max, wrappedSpan(e.length))
			}
		}
		ss.coarse = new([1 << coarseBits / 64]uint64)
		for k := range ss.coarse {
			ss.coarse[k] = ss.plain.coarse[k] | ss.wrap.coarse[k]
		}
		for _, t := range []*table{&ss.plain, &ss.wrap} {
			slices.SortFunc(t.entries, func(a, b tableEntry) int { return int(a.prefilter) - int(b.prefilter) })
			t.entries = slices.Clip(t.entries)
		}
		s.salts = append(s.salts, ss)
	}
	copy(s.digest[:], d.Sum(nil))
	sort.Strings(s.names)
	s.names = slices.Compact(s.names)
	return s, nil
}

// Names returns the names of the values the set searches, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Digest identifies the searched set: the bundles' paths, salts and
// prints. Two sets with the same digest search for the same values.
func (s *Set) Digest() [32]byte { return s.digest }

// Values is the number of values the set searches.
func (s *Set) Values() int { return s.values }

// Search returns every confirmed match in data, in order of offset.
func (s *Set) Search(data []byte) []Hit {
	var out []Hit
	s.SearchRange(data, 0, len(data), func(bundle, name, enc string, at, n int) {
		out = append(out, Hit{Bundle: bundle, Name: name, Encoding: enc, Offset: at, Length: n})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// MaxLen is the longest match the set can report: the longest form, or
// the longest run with its line breaks.
func (s *Set) MaxLen() int { return s.max }

// SearchRange calls found for every confirmed match that starts in
// data[from:to]; data beyond to is context. Matches of one bundle come in
// order of offset.
func (s *Set) SearchRange(data []byte, from, to int, found func(bundle, name, encoding string, at, length int)) {
	to = min(to, len(data)-Window+1)
	if s.min < 0 || from >= to || from < 0 {
		return
	}
	for i := range s.salts {
		s.salts[i].search(data, from, to, found)
	}
}

// block is how many positions the search rolls over before it confirms
// their hits, in order of offset: a bound on the hits it holds.
const block = 64 << 10

// search rolls the bundle's hash over every window that starts in
// [from, to), block by block: per byte, one modular multiplication, a mix
// of two multiplications and a lookup in a table the cache holds. The
// positions whose prefilter is in a table are confirmed after each block,
// in order of offset.
func (ss *saltSet) search(data []byte, from, to int, found func(bundle, name, encoding string, at, length int)) {
	var hits []uint64 // position<<32 | prefilter, of one block
	for start := from; start < to; start += block {
		hits = ss.roll1(data, start, min(to, start+block), hits[:0])
		for _, c := range hits {
			ss.confirm(data, int(c>>32), uint32(c), found)
		}
	}
}

// prefilterOf is roller.prefilter with the mix at hand.
func prefilterOf(h, mix uint64) uint32 {
	x := (h ^ mix) * 0x9e3779b97f4a7c15
	x ^= x >> 29
	x *= mix
	return uint32(x >> (64 - PrefilterBits))
}

// step rolls h one byte: out leaves (its term, from saltSet.out), in
// enters; h stays below 2^61-1.
func step(h, outTerm, base uint64, in byte) uint64 {
	hi, lo := bits.Mul64(h+outTerm, base)
	h = (hi<<3 | lo>>61) + lo&mersenne61 + uint64(in)
	h = (h & mersenne61) + (h >> 61)
	if h >= mersenne61 {
		h -= mersenne61
	}
	return h
}

// hit reports whether prefilter p at a window is in a table: the plain
// one, or (when the window holds a line break) the wrapped one.
func (ss *saltSet) hit(p uint32, nl bool) bool {
	c := p >> (PrefilterBits - coarseBits)
	if ss.plain.coarse[c/64]&(1<<(c%64)) != 0 && ss.plain.bits[p/64]&(1<<(p%64)) != 0 {
		return true
	}
	return nl && ss.wrap.coarse[c/64]&(1<<(c%64)) != 0 && ss.wrap.bits[p/64]&(1<<(p%64)) != 0
}

// lastBreak is the last '\n' or '\r' of data[i:i+Window] (-1 for none): a
// wrapped window holds one (a "\r\n" may begin at its last byte).
func lastBreak(data []byte, i int) int {
	nl := -1
	for j := i; j < i+Window; j++ {
		if data[j] == '\n' || data[j] == '\r' {
			nl = j
		}
	}
	return nl
}

func isBreak(b byte) bool { return b == '\n' || b == '\r' }

// roll1 appends the hits of the windows that start in [from, to).
func (ss *saltSet) roll1(data []byte, from, to int, hits []uint64) []uint64 {
	if from >= to {
		return hits
	}
	base, mix, out := ss.roll.base, ss.roll.mix, &ss.out
	h := ss.roll.sum(data[from : from+Window])
	nl := lastBreak(data, from)
	for i := from; ; i++ {
		if p := prefilterOf(h, mix); ss.hit(p, nl >= i) {
			hits = append(hits, uint64(i)<<32|uint64(p))
		}
		if i+1 >= to {
			return hits
		}
		b := data[i+Window]
		if isBreak(b) {
			nl = i + Window
		}
		h = step(h, out[data[i]], base, b)
	}
}

// confirm confirms what prefilter p may be at data[i:]: the plain forms
// of p, and when the window holds a line break the wrapped ones.
func (ss *saltSet) confirm(data []byte, i int, p uint32, found func(bundle, name, encoding string, at, length int)) {
	ss.confirmPlain(data, i, p, found)
	if lastBreak(data, i) >= 0 {
		for _, e := range ss.wrap.lookup(p) {
			ss.confirmWrapped(data, i, &ss.forms[e.form], found)
		}
	}
}

// confirmPlain confirms the forms whose prefilter is p at data[i:]: as they
// are, and a base64 form also wrapped at lines (its first break after the
// window).
func (ss *saltSet) confirmPlain(data []byte, i int, p uint32, found func(bundle, name, encoding string, at, length int)) {
	for _, e := range ss.plain.lookup(p) {
		f := &ss.forms[e.form]
		n := int(f.length)
		if i+n <= len(data) && confirm(ss.salt, data[i:i+n]) == f.confirm {
			found(ss.bundle, ss.names[f.name], encodings[f.encoding], i, n)
		}
		if encodings[f.encoding] == "base64" {
			ss.confirmWrapped(data, i, f, found)
		}
	}
}

// confirmWrapped confirms the base64 form f wrapped at lines at data[i:].
func (ss *saltSet) confirmWrapped(data []byte, i int, f *form, found func(bundle, name, encoding string, at, length int)) {
	if !base64Lines(data, i, int(f.length)) {
		return
	}
	if u, ok := unwrap(data, i, int(f.length)); ok && confirm(ss.salt, u.text) == f.confirm {
		found(ss.bundle, ss.names[f.name], wrappedEncoding, i, u.span)
	}
}

// base64Lines reports whether data[i:] holds n characters of the standard
// base64 alphabet before any byte that is neither one nor a line break: the
// test that rules out most prefilter hits before [unwrap] copies anything.
func base64Lines(data []byte, i, n int) bool {
	for ; n > 0 && i < len(data); i++ {
		switch c := data[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			n--
		case c != '\n' && c != '\r':
			return false
		}
	}
	return n == 0
}

// wrappedSpan is the most bytes a run of n characters takes wrapped: a
// "\r\n" before the first character after 1, then every 64.
func wrappedSpan(n int) int { return n + 2*(1+n/wrapWidths[0]) }
