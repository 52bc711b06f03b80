package decode

import (
	"errors"
	"io"
)

// BCJReader undoes the x86 branch filter (BCJ) of 7-Zip and xz: the
// absolute addresses the encoder wrote into E8 (call) and E9 (jump)
// instructions are made relative again.
type BCJReader struct {
	r        io.Reader
	buf      []byte
	start    int // next byte to return
	done     int // bytes converted (returnable)
	end      int // bytes in buf
	pos      uint32
	prevMask uint32
	prevPos  uint32
	eof      bool
	err      error
}

// NewBCJReader undoes the branch filter of what r reads.
func NewBCJReader(r io.Reader) *BCJReader {
	return &BCJReader{r: r, buf: make([]byte, 64<<10), prevPos: ^uint32(4)}
}

func (b *BCJReader) Read(p []byte) (int, error) {
	for b.start == b.done {
		if b.eof {
			if b.err != nil {
				return 0, b.err
			}
			return 0, io.EOF
		}
		// Keep what is not converted yet, and read more.
		copy(b.buf, b.buf[b.done:b.end])
		b.end -= b.done
		b.start, b.done = 0, 0
		for b.end < len(b.buf) && !b.eof {
			n, err := b.r.Read(b.buf[b.end:])
			b.end += n
			if err != nil {
				b.eof = true
				if !errors.Is(err, io.EOF) {
					b.err = err
				}
			}
			if n == 0 && err == nil {
				break
			}
		}
		n := b.convert(b.buf[:b.end])
		if b.eof {
			n = b.end // the last few bytes are never converted
		}
		b.done = n
	}
	n := copy(p, b.buf[b.start:b.done])
	b.start += n
	return n, nil
}

func test86(c byte) bool { return c == 0 || c == 0xff }

// convert decodes the branches in data, which starts at stream offset
// b.pos, and returns how many bytes are final.
func (b *BCJReader) convert(data []byte) int {
	allowed := [8]bool{true, true, true, false, true, false, false, false}
	bitNum := [8]uint32{0, 1, 2, 2, 3, 3, 3, 3}
	if len(data) < 5 {
		return 0
	}
	if b.pos-b.prevPos > 5 {
		b.prevPos = b.pos - 5
	}
	i := 0
	for i <= len(data)-5 {
		c := data[i]
		if c != 0xe8 && c != 0xe9 {
			i++
			continue
		}
		off := b.pos + uint32(i) - b.prevPos
		b.prevPos = b.pos + uint32(i)
		if off > 5 {
			b.prevMask = 0
		} else {
			for k := uint32(0); k < off; k++ {
				b.prevMask &= 0x77
				b.prevMask <<= 1
			}
		}
		c = data[i+4]
		if test86(c) && allowed[(b.prevMask>>1)&7] && b.prevMask>>1 < 0x10 {
			src := uint32(c)<<24 | uint32(data[i+3])<<16 | uint32(data[i+2])<<8 | uint32(data[i+1])
			var dest uint32
			for {
				dest = src - (b.pos + uint32(i) + 5)
				if b.prevMask == 0 {
					break
				}
				k := bitNum[b.prevMask>>1]
				c = byte(dest >> (24 - k*8))
				if !test86(c) {
					break
				}
				src = dest ^ (1<<(32-k*8) - 1)
			}
			data[i+4] = ^byte(((dest >> 24) & 1) - 1)
			data[i+3] = byte(dest >> 16)
			data[i+2] = byte(dest >> 8)
			data[i+1] = byte(dest)
			i += 5
			b.prevMask = 0
		} else {
			i++
			b.prevMask |= 1
			if test86(c) {
				b.prevMask |= 0x10
			}
		}
	}
	b.pos += uint32(i)
	return i
}
