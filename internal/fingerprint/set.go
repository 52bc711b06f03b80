package fingerprint

import (
	"crypto/sha256"
	"fmt"
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
type Set struct {
	salts  []saltSet
	digest [32]byte
	values int
	names  []string // of the values, sorted, each once
	min    int      // shortest form length
	max    int      // longest match
}

type saltSet struct {
	salt   Salt
	roll   roller
	bits   []uint64 // one bit per prefilter value
	coarse []uint64 // one bit per value of the prefilter's top coarseBits bits: a table the cache holds
	byPref map[uint32][]target
}

// target is what a prefilter hit may be: a form, to confirm as it is,
// and, for a base64 run (unwrap), the run wrapped at lines.
const coarseBits = 18

type target struct {
	bundle, name, encoding string
	length                 int
	confirm                [ConfirmBytes]byte
	unwrap, plain          bool
}

// NewSet compiles the prints of bundles. A malformed print is an error
// naming its bundle and key.
func NewSet(bundles []Bundle) (*Set, error) {
	s := &Set{min: -1}
	d := sha256.New()
	fmt.Fprintf(d, "sealenv fingerprint set v%d\x00", Version)
	for _, b := range bundles {
		ss := saltSet{salt: b.Salt, roll: newRoller(b.Salt), bits: make([]uint64, 1<<PrefilterBits/64), coarse: make([]uint64, 1<<coarseBits/64), byPref: map[uint32][]target{}}
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
			for _, e := range es {
				t := target{bundle: b.Path, name: n, encoding: e.encoding, length: e.length, confirm: e.confirm, plain: true, unwrap: e.encoding == "base64"}
				if e.wrapped {
					r := es[e.ref]
					t = target{bundle: b.Path, name: n, encoding: r.encoding, length: r.length, confirm: r.confirm, unwrap: true}
				}
				ss.bits[e.prefilter/64] |= 1 << (e.prefilter % 64)
				c := e.prefilter >> (PrefilterBits - coarseBits)
				ss.coarse[c/64] |= 1 << (c % 64)
				ss.byPref[e.prefilter] = append(ss.byPref[e.prefilter], t)
				if t.plain && (s.min < 0 || e.length < s.min) {
					s.min = e.length
				}
				s.max = max(s.max, wrappedSpan(t.length))
			}
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

func (ss *saltSet) search(data []byte, from, to int, found func(bundle, name, encoding string, at, length int)) {
	r := ss.roll
	h := r.sum(data[from : from+Window])
	for i := from; ; i++ {
		p := r.prefilter(h)
		if c := p >> (PrefilterBits - coarseBits); ss.coarse[c/64]&(1<<(c%64)) != 0 && ss.bits[p/64]&(1<<(p%64)) != 0 {
			for _, t := range ss.byPref[p] {
				if t.plain && i+t.length <= len(data) && confirm(ss.salt, data[i:i+t.length]) == t.confirm {
					found(t.bundle, t.name, t.encoding, i, t.length)
				}
				if !t.unwrap {
					continue
				}
				if u, ok := unwrap(data, i, t.length); ok && confirm(ss.salt, u.text) == t.confirm {
					found(t.bundle, t.name, wrappedEncoding, i, u.span)
				}
			}
		}
		if i+1 >= to {
			return
		}
		h = r.roll(h, data[i], data[i+Window])
	}
}

// wrappedSpan is the most bytes a run of n characters takes wrapped: a
// "\r\n" before the first character after 1, then every 64.
func wrappedSpan(n int) int { return n + 2*(1+n/wrapWidths[0]) }
