package match

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Digest identifies what m searches for: every form of every known value
// (its bytes, its name and its encoding) and every keyword (its text, its
// rule, its case folding and its window). Two matchers with the same digest
// search the same bytes for the same things, whatever the order of the
// values they were given; a cache of verdicts (the audit's) keys on it.
//
// The digest is a hash of the values: whoever holds it can test a guess of
// every value at once, so it is stored only under a key of its own (the
// audit's cache keeps an HMAC of it, never the digest).
func (m *Matcher) Digest() [32]byte {
	h := sha256.New()
	num := func(v int) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(int64(v)))
		h.Write(b[:])
	}
	str := func(b []byte) {
		num(len(b))
		h.Write(b)
	}
	h.Write([]byte("sealenv match digest v1\x00"))
	// Each form hashed on its own, then sorted: the order of the values
	// does not change what is searched.
	forms := make([][32]byte, 0, len(m.known.patterns))
	for _, p := range m.known.patterns {
		fh := sha256.New()
		for _, b := range [][]byte{[]byte(p.name), []byte(p.encoding), p.text} {
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
			fh.Write(n[:])
			fh.Write(b)
		}
		forms = append(forms, [32]byte(fh.Sum(nil)))
	}
	slices.SortFunc(forms, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	forms = slices.Compact(forms)
	num(len(forms))
	for _, f := range forms {
		h.Write(f[:])
	}
	// Keywords in order: their order decides which is tried first.
	num(len(m.keywords))
	for _, k := range m.keywords {
		str(k.text)
		num(k.rule)
		fold := 0
		if k.fold {
			fold = 1
		}
		num(fold)
		num(k.before)
		num(k.after)
	}
	if m.prints != nil {
		h.Write([]byte("prints\x00"))
		d := m.prints.Digest()
		h.Write(d[:])
	}
	return [32]byte(h.Sum(nil))
}
