package decode

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// LZWReader decodes Unix compress (.Z) data as ncompress writes it: LZW
// codes of 9 bits growing to at most 16, packed least significant bit
// first, with CLEAR (256) resetting the table in block mode. Codes are
// written in groups of eight: when the code width grows, or after a
// CLEAR, the rest of the current group is padding and is skipped, as
// compress(1) does. Memory is fixed (a 64 Ki-entry table), whatever the
// input.
type LZWReader struct {
	r       *bufio.Reader
	maxbits uint
	block   bool
	n       uint   // current code width
	maxcode int    // the largest code of the current width
	top     int    // 1 << maxbits: no entry is made at or past it
	free    int    // next table entry
	old     int    // previous code; -1 before the first
	fin     byte   // first byte of the previous string
	acc     uint64 // bit accumulator
	nacc    uint   // bits in acc
	used    int64  // bits read since the current group of codes began
	prefix  [1 << 16]uint16
	suffix  [1 << 16]byte
	stack   []byte // a decoded string, reversed
	out     []byte // decoded bytes not yet returned
	err     error
}

var errLZWCorrupt = errors.New("corrupt LZW data")

// NewLZWReader decodes the .Z stream r reads; it fails on a header it
// does not know.
func NewLZWReader(r io.Reader) (*LZWReader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 32<<10)
	}
	var hdr [3]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	if hdr[0] != 0x1f || hdr[1] != 0x9d {
		return nil, errors.New("not compressed with compress(1)")
	}
	bits := uint(hdr[2] & 0x1f)
	if bits < 9 || bits > 16 {
		return nil, fmt.Errorf("codes of %d bits (want 9 to 16)", bits)
	}
	z := &LZWReader{r: br, maxbits: bits, block: hdr[2]&0x80 != 0, n: 9, maxcode: 1<<9 - 1, top: 1 << bits, old: -1, stack: make([]byte, 0, 1<<16)}
	z.free = 256
	if z.block {
		z.free = 257
	}
	for i := 0; i < 256; i++ {
		z.suffix[i] = byte(i)
	}
	return z, nil
}

// code reads the next code; ok is false at the end of the data (fewer
// bits left than a code takes).
func (z *LZWReader) code() (int, bool, error) {
	for z.nacc < z.n {
		c, err := z.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, false, nil
			}
			return 0, false, err
		}
		z.acc |= uint64(c) << z.nacc
		z.nacc += 8
	}
	c := int(z.acc & (1<<z.n - 1))
	z.acc >>= z.n
	z.nacc -= z.n
	z.used += int64(z.n)
	return c, true, nil
}

// align skips the rest of the current group of eight codes.
func (z *LZWReader) align() error {
	group := int64(z.n) * 8
	skip := (group - z.used%group) % group
	z.used = 0
	for skip > 0 {
		if z.nacc == 0 {
			c, err := z.r.ReadByte()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			z.acc, z.nacc = uint64(c), 8
		}
		k := min(uint(skip), z.nacc)
		z.acc >>= k
		z.nacc -= k
		skip -= int64(k)
	}
	return nil
}

func (z *LZWReader) Read(p []byte) (int, error) {
	for len(z.out) == 0 {
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.step()
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

// step decodes one code into z.out, or returns why it cannot.
func (z *LZWReader) step() error {
	for {
		if z.free > z.maxcode {
			if z.n >= 16 {
				return errLZWCorrupt
			}
			if err := z.align(); err != nil {
				return err
			}
			z.n++
			z.maxcode = 1<<z.n - 1
			if z.n == z.maxbits {
				z.maxcode = z.top
			}
		}
		c, ok, err := z.code()
		if err != nil {
			return err
		}
		if !ok {
			return io.EOF
		}
		if z.old < 0 {
			if c >= 256 {
				return errLZWCorrupt
			}
			z.old, z.fin = c, byte(c)
			z.stack = append(z.stack[:0], byte(c))
			z.out = z.stack
			return nil
		}
		if c == 256 && z.block {
			z.free = 256
			if err := z.align(); err != nil {
				return err
			}
			z.n, z.maxcode = 9, 1<<9-1
			continue
		}
		in := c
		s := z.stack[:0]
		if c >= z.free {
			if c > z.free {
				return errLZWCorrupt
			}
			s = append(s, z.fin)
			c = z.old
		}
		for c >= 256 {
			s = append(s, z.suffix[c])
			c = int(z.prefix[c])
		}
		z.fin = z.suffix[c]
		s = append(s, z.fin)
		for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
			s[i], s[j] = s[j], s[i]
		}
		z.stack = s
		z.out = s
		if z.free < z.top {
			z.prefix[z.free] = uint16(z.old)
			z.suffix[z.free] = z.fin
			z.free++
		}
		z.old = in
		return nil
	}
}
