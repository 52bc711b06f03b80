package match

import "encoding/binary"

// knownSet holds every encoded form of every value, indexed by a hash of
// its first eight bytes.
type knownSet struct {
	patterns []pattern
	bits     uint
	table    []uint64  // bitset over the prefix hash
	heads    [][]int32 // prefix hash -> pattern indexes
	maxLen   int
	skipped  []int // indexes of the values shorter than MinLen (not empty)
}

func newKnownSet(values []Value) *knownSet {
	k := &knownSet{}
	for i, v := range values {
		if len(v.Value) < MinLen {
			if len(v.Value) > 0 {
				k.skipped = append(k.skipped, i)
			}
			continue
		}
		for _, p := range encodings(v.Value) {
			p.name = v.Name
			k.patterns = append(k.patterns, p)
			if len(p.text) > k.maxLen {
				k.maxLen = len(p.text)
			}
		}
	}
	k.bits = 10
	for 1<<k.bits < 8*len(k.patterns) && k.bits < 24 {
		k.bits++
	}
	k.table = make([]uint64, (1<<k.bits+63)/64)
	k.heads = make([][]int32, 1<<k.bits)
	for i, p := range k.patterns {
		h := k.hash(binary.LittleEndian.Uint64(p.text))
		k.table[h>>6] |= 1 << (h & 63)
		k.heads[h] = append(k.heads[h], int32(i))
	}
	return k
}

func (k *knownSet) hash(v uint64) uint64 {
	return (v * 0x9E3779B97F4A7C15) >> (64 - k.bits)
}

// match returns the indexes of the patterns that start at b[0].
func (k *knownSet) match(b []byte, fn func(p *pattern)) {
	if len(b) < 8 || len(k.patterns) == 0 {
		return
	}
	h := k.hash(binary.LittleEndian.Uint64(b))
	if k.table[h>>6]&(1<<(h&63)) == 0 {
		return
	}
	for _, i := range k.heads[h] {
		p := &k.patterns[i]
		if len(b) >= len(p.text) && string(b[:len(p.text)]) == string(p.text) {
			fn(p)
		}
	}
}
