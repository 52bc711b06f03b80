// Package fingerprint makes and searches salted fingerprints of sealed
// values: what a bundle publishes so that an audit with no identity can
// find its values in an image without being able to read them.
//
// # Format (version 1)
//
// A bundle has one random [Salt] of 16 bytes. A value gets one [Print]:
// for each form of the value that the audit's matcher searches
// ([match.Forms], the one list of forms), an entry of
//
//   - the encoding, one byte (an index into the encodings of version 1);
//   - the length of the form in bytes, an unsigned varint;
//   - a prefilter of [PrefilterBits] bits: a salted rolling hash of the
//     form's first [Window] bytes;
//   - a confirming digest of [ConfirmBytes] bytes: SHA-256 of a domain
//     string, the salt and the whole form.
//
// The entries follow a version byte; the Print's text is their unpadded
// standard base64. A value gets no Print when it is shorter than
// [MinLen] bytes or when [Entropy] of what follows its first [Window] bytes
// is under [MinEntropy] bits (see [Weak]): such a value is searched only
// with an identity. docs/audit.md gives the security argument.
//
// # Searching
//
// [NewSet] compiles the prints of bundles; [Set.Search] slides each
// bundle's rolling hash over the bytes, looks its top bits up in a table
// of the prefilters, and confirms each hit with SHA-256 of the whole
// candidate. A [Set] never holds a value.
//
// The package is for the authoring side and the audit: the injector does
// not link it.
package fingerprint

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/sealenv/sealenv/internal/match"
)

// Version is the version of the format this package writes and reads.
const Version = 1

// Format constants of version 1.
const (
	// MinLen is the shortest value, in bytes, that gets a Print.
	MinLen = 16
	// Window is the length, in bytes, of the start of a form that its
	// prefilter hashes; every form of a value of MinLen bytes is at least
	// this long.
	Window = 16
	// PrefilterBits is the number of bits a prefilter keeps.
	PrefilterBits = 24
	// ConfirmBytes is the length of the confirming digest (128 bits).
	ConfirmBytes = 16
	// SaltLen is the length of a bundle's salt in bytes.
	SaltLen = 16
	// MinEntropy is the estimated entropy, in bits, that a value must have
	// after its first Window bytes to get a Print (see [Entropy]).
	MinEntropy = 80
)

// encodings of version 1, by their index in an entry. Append only.
var encodings = []string{"raw", "hex", "base64", "base64url", "base64-wrapped", "url", "html", "json", "utf16le", "utf16be"}

const confirmDomain = "sealenv-fingerprint-v1-confirm\x00"

// Salt is a bundle's salt.
type Salt [SaltLen]byte

// NewSalt returns a random salt.
func NewSalt() (Salt, error) {
	var s Salt
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("making a fingerprint salt: %w", err)
	}
	return s, nil
}

// String is the salt's stored form: unpadded standard base64.
func (s Salt) String() string { return base64.RawStdEncoding.EncodeToString(s[:]) }

// ParseSalt reads the stored form of a salt.
func ParseSalt(text string) (Salt, error) {
	var s Salt
	b, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil || len(b) != SaltLen {
		return s, errors.New("malformed fingerprint salt")
	}
	copy(s[:], b)
	return s, nil
}

// ErrWeak is returned by [Make] for a value too short or too guessable to
// publish a fingerprint of.
var ErrWeak = errors.New("value too short or too guessable to fingerprint")

// Weak reports whether v gets no Print: shorter than [MinLen] bytes, or
// fewer than [MinEntropy] bits estimated after its first [Window] bytes
// (the prefilters are assumed to give those away).
func Weak(v []byte) bool {
	return len(v) < MinLen || Entropy(v[Window:]) < MinEntropy
}

// Make returns the Print of v under salt, in its stored form, or
// [ErrWeak].
func Make(salt Salt, v []byte) (string, error) {
	if Weak(v) {
		return "", ErrWeak
	}
	h := newRoller(salt)
	out := []byte{Version}
	forms := match.Forms(v)
	index := map[string]int{} // form text: entry index
	n := 0
	for _, f := range forms {
		if f.Encoding == wrappedEncoding {
			continue
		}
		id := indexOf(f.Encoding)
		if id < 0 {
			return "", fmt.Errorf("internal error: encoding %q has no fingerprint code", f.Encoding)
		}
		if len(f.Text) < Window {
			return "", fmt.Errorf("internal error: a %s form is shorter than the fingerprint window", f.Encoding)
		}
		out = append(out, byte(id))
		out = binary.AppendUvarint(out, uint64(len(f.Text)))
		out = appendPrefilter(out, h.prefilter(h.sum(f.Text[:Window])))
		c := confirm(salt, f.Text)
		out = append(out, c[:]...)
		index[string(f.Text)] = n
		n++
	}
	// A wrapped form is its base64 run with line breaks: it is confirmed
	// by the run's digest, after the search takes the breaks out. Only a
	// form with a break inside its first Window bytes starts differently
	// from its run, and needs a prefilter of its own.
	seen := map[[2]uint32]bool{}
	for _, f := range forms {
		if f.Encoding != wrappedEncoding || !bytes.ContainsAny(f.Text[:Window], "\r\n") {
			continue // its first Window bytes are its run's: the run's prefilter finds it
		}
		run, ok := unwrap(f.Text, 0, -1)
		ref, found := index[string(run.text)]
		if !ok || !found {
			return "", errors.New("internal error: a wrapped base64 form is not a wrapping the fingerprints know")
		}
		if run.breaks[0] >= Window {
			continue
		}
		p := h.prefilter(h.sum(f.Text[:Window]))
		if seen[[2]uint32{uint32(ref), p}] {
			continue
		}
		seen[[2]uint32{uint32(ref), p}] = true
		out = append(out, byte(indexOf(wrappedEncoding)))
		out = binary.AppendUvarint(out, uint64(ref))
		out = appendPrefilter(out, p)
	}
	return base64.RawStdEncoding.EncodeToString(out), nil
}

const wrappedEncoding = "base64-wrapped"

func appendPrefilter(b []byte, p uint32) []byte { return append(b, byte(p>>16), byte(p>>8), byte(p)) }

// wrapWidths are the line lengths of wrapped base64 that [match.Forms]
// writes (PEM and MIME).
var wrapWidths = []int{64, 76}

// unwrapped is a base64 run taken out of its line breaks.
type unwrapped struct {
	text   []byte
	span   int   // bytes of data it took, breaks included
	breaks []int // run indices a break came before
}

// unwrap reads a run of n characters (n < 0: to the end) from data at i,
// leaving out line breaks ("\n", or "\r\n" throughout), and reports
// whether they break it as wrapped base64 does: a first break after 1 to
// width characters, then one every width characters, for a width of
// wrapWidths.
func unwrap(data []byte, i, n int) (unwrapped, bool) {
	var u unwrapped
	if n >= 0 {
		u.text = make([]byte, 0, n)
	} else {
		u.text = make([]byte, 0, len(data)-i)
	}
	nl := ""
	j := i
	for j < len(data) && (n < 0 || len(u.text) < n) {
		c := data[j]
		if c == '\n' || c == '\r' {
			this := "\n"
			if c == '\r' {
				if j+1 >= len(data) || data[j+1] != '\n' {
					return u, false
				}
				this = "\r\n"
			}
			if nl != "" && nl != this || len(u.text) == 0 {
				return u, false
			}
			nl = this
			u.breaks = append(u.breaks, len(u.text))
			j += len(this)
			continue
		}
		u.text = append(u.text, c)
		j++
	}
	u.span = j - i
	if n >= 0 && len(u.text) < n || len(u.breaks) == 0 || u.breaks[len(u.breaks)-1] >= len(u.text) {
		return u, false
	}
	for _, w := range wrapWidths {
		first := u.breaks[0]
		if first > w {
			continue
		}
		ok := true
		for k, b := range u.breaks {
			ok = ok && b == first+k*w
		}
		// Every break the width puts inside the run is there.
		if ok && first+len(u.breaks)*w >= len(u.text) {
			return u, true
		}
	}
	return u, false
}

func indexOf(enc string) int {
	for i, e := range encodings {
		if e == enc {
			return i
		}
	}
	return -1
}

func confirm(salt Salt, pattern []byte) [ConfirmBytes]byte {
	var out [ConfirmBytes]byte
	// On the stack for a pattern of up to 464 bytes: a search confirms
	// many candidates and allocates nothing for them.
	var buf [512]byte
	if len(confirmDomain)+SaltLen+len(pattern) <= len(buf) {
		b := append(append(append(buf[:0], confirmDomain...), salt[:]...), pattern...)
		d := sha256.Sum256(b)
		copy(out[:], d[:])
		return out
	}
	h := sha256.New()
	h.Write([]byte(confirmDomain))
	h.Write(salt[:])
	h.Write(pattern)
	copy(out[:], h.Sum(nil))
	return out
}

// entry is one form of a Print, or (wrapped) the prefilter of wrapped
// forms of the base64 run of entry ref.
type entry struct {
	encoding  string
	length    int
	prefilter uint32
	confirm   [ConfirmBytes]byte
	wrapped   bool
	ref       int
}

// parse reads the stored form of a Print.
func parse(text string) ([]entry, error) {
	b, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil || len(b) == 0 {
		return nil, errors.New("malformed fingerprint")
	}
	if b[0] != Version {
		return nil, fmt.Errorf("fingerprint version %d (this build reads version %d)", b[0], Version)
	}
	b = b[1:]
	var out []entry
	forms := 0
	for len(b) > 0 {
		id := int(b[0])
		if id >= len(encodings) {
			return nil, fmt.Errorf("malformed fingerprint: unknown encoding %d", id)
		}
		n, k := binary.Uvarint(b[1:])
		if encodings[id] == wrappedEncoding {
			if k <= 0 || n >= uint64(forms) || len(b) < 1+k+3 || out[n].encoding != "base64" {
				return nil, errors.New("malformed fingerprint: bad wrapped entry")
			}
			b = b[1+k:]
			out = append(out, entry{encoding: wrappedEncoding, wrapped: true, ref: int(n), prefilter: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])})
			b = b[3:]
			continue
		}
		if k <= 0 || n < Window || n > 1<<24 || len(b) < 1+k+3+ConfirmBytes || forms < len(out) {
			return nil, errors.New("malformed fingerprint: truncated entry")
		}
		b = b[1+k:]
		e := entry{encoding: encodings[id], length: int(n), prefilter: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])}
		copy(e.confirm[:], b[3:3+ConfirmBytes])
		b = b[3+ConfirmBytes:]
		out = append(out, e)
		forms++
	}
	if forms == 0 {
		return nil, errors.New("malformed fingerprint: no forms")
	}
	return out, nil
}

// The prefilter is a polynomial hash of the window modulo the prime
// 2^61-1 at a base taken from the salt, so that it rolls one byte at a
// time, finished by a salted mix whose top PrefilterBits bits are kept.
const mersenne61 = 1<<61 - 1

type roller struct {
	base, top, mix uint64 // top = base^(Window-1)
}

func newRoller(salt Salt) roller {
	d := sha256.Sum256(append([]byte("sealenv-fingerprint-v1-prefilter\x00"), salt[:]...))
	r := roller{base: binary.LittleEndian.Uint64(d[0:8])%(mersenne61-2) + 2, mix: binary.LittleEndian.Uint64(d[8:16]) | 1}
	r.top = 1
	for i := 0; i < Window-1; i++ {
		r.top = mulmod(r.top, r.base)
	}
	return r
}

func mulmod(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	// a, b < 2^61: the product < 2^122; fold at bit 61.
	r := (hi<<3 | lo>>61) + lo&mersenne61
	if r >= mersenne61 {
		r -= mersenne61
	}
	return r
}

func addmod(a, b uint64) uint64 {
	r := a + b
	if r >= mersenne61 {
		r -= mersenne61
	}
	return r
}

// sum is the polynomial hash of w (Window bytes).
func (r roller) sum(w []byte) uint64 {
	var h uint64
	for _, c := range w {
		h = addmod(mulmod(h, r.base), uint64(c))
	}
	return h
}

// roll moves the window one byte: out leaves, in enters.
func (r roller) roll(h uint64, out, in byte) uint64 {
	h = addmod(h, mersenne61-mulmod(uint64(out), r.top))
	return addmod(mulmod(h, r.base), uint64(in))
}

func (r roller) prefilter(h uint64) uint32 {
	x := (h ^ r.mix) * 0x9e3779b97f4a7c15
	x ^= x >> 29
	x *= r.mix
	return uint32(x >> (64 - PrefilterBits))
}

// Entropy estimates the entropy of v in bits, for [Weak]: a string of hex
// digits counts 4 bits a character, one of random base32 (see
// randomBase32: a TOTP seed) 5; otherwise v is cut into runs of
// letters, digits and other bytes, and a run of letters that reads like a
// word (all lower case, all upper case, or capitalised) of three letters or
// more counts as one word of a 2^16-word dictionary (at most 16 bits), other
// letters 5.7 bits, digits 3.3, other printable bytes 5 and other bytes 8.
// A value that repeats a shorter piece counts the piece once.
func Entropy(v []byte) float64 {
	if len(v) == 0 {
		return 0
	}
	v = v[:period(v)]
	if isHex(v) {
		return 4 * float64(len(v))
	}
	if n, ok := randomBase32(v); ok {
		return 5 * float64(n)
	}
	var bitsTotal float64
	for i := 0; i < len(v); {
		j := i + 1
		cl := class(v[i])
		for j < len(v) && class(v[j]) == cl {
			j++
		}
		run := v[i:j]
		switch cl {
		case classLetter:
			n := float64(len(run))
			if len(run) >= 3 && wordLike(run) {
				bitsTotal += math.Min(n*math.Log2(26), 16)
			} else {
				bitsTotal += n * math.Log2(52)
			}
		case classDigit:
			bitsTotal += float64(len(run)) * math.Log2(10)
		case classPrintable:
			bitsTotal += float64(len(run)) * 5
		default:
			bitsTotal += float64(len(run)) * 8
		}
		i = j
	}
	return bitsTotal
}

const (
	classLetter = iota
	classDigit
	classPrintable
	classOther
)

func class(c byte) int {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return classLetter
	case c >= '0' && c <= '9':
		return classDigit
	case c > ' ' && c < 0x7f:
		return classPrintable
	}
	return classOther
}

func lower(c byte) bool { return c >= 'a' && c <= 'z' }

func wordLike(run []byte) bool {
	allLower, allUpper := true, true
	for _, c := range run[1:] {
		if lower(c) {
			allUpper = false
		} else {
			allLower = false
		}
	}
	return allLower || allUpper && !lower(run[0])
}

// randomBase32 reports whether v reads as random base32 (RFC 4648 in one
// case, '=' only as padding at the end: a TOTP seed), and how many
// characters it has before its padding. Words in capitals, also with
// digits between them, do not: a run of three letters or more with two
// vowels, letters of which half or more are the nine most frequent in
// English (ETAOINSHR; a third of random letters), or a piece of four
// characters that occurs twice, reads as words.
func randomBase32(v []byte) (int, bool) {
	n := len(v)
	for n > 0 && v[n-1] == '=' {
		n--
	}
	if n < 8 {
		return 0, false
	}
	var upper, lowerCase bool
	letters, frequent := 0, 0
	run, vowels := 0, 0
	for _, c := range v[:n] {
		if c >= 'a' && c <= 'z' {
			lowerCase, c = true, c-'a'+'A'
		} else if c >= 'A' && c <= 'Z' {
			upper = true
		}
		switch {
		case c >= 'A' && c <= 'Z':
			letters++
			run++
			if strings.IndexByte("ETAOINSHR", c) >= 0 {
				frequent++
			}
			if strings.IndexByte("AEIOU", c) >= 0 {
				vowels++
			}
			if run >= 3 && vowels >= 2 {
				return 0, false
			}
		case c >= '2' && c <= '7':
			run, vowels = 0, 0
		default:
			return 0, false
		}
	}
	if upper && lowerCase || 2*frequent >= letters || repeats(v[:n], 4) {
		return 0, false
	}
	return n, true
}

// repeats reports whether a piece of k characters occurs twice in v, case
// aside: a word used again (CRYPT4CRYPT), which random base32 of TOTP
// length almost never shows (about 4 in 10,000 seeds for k = 4).
func repeats(v []byte, k int) bool {
	seen := make(map[string]bool, len(v))
	up := bytes.ToUpper(v)
	for i := 0; i+k <= len(up); i++ {
		p := string(up[i : i+k])
		if seen[p] {
			return true
		}
		seen[p] = true
	}
	return false
}

func isHex(v []byte) bool {
	lowerHex, upperHex := false, false
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			lowerHex = true
		case c >= 'A' && c <= 'F':
			upperHex = true
		default:
			return false
		}
	}
	return !(lowerHex && upperHex)
}

// period is the length of the shortest piece v repeats (len(v) when it
// repeats none).
func period(v []byte) int {
	for p := 1; p <= len(v)/2; p++ {
		ok := true
		for i := p; i < len(v); i++ {
			if v[i] != v[i-p] {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
	return len(v)
}
