package decode

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LZ4Reader decodes LZ4 streams as the lz4 tool writes them: frames
// (magic 0x184D2204: independent or linked blocks of up to 4 MiB,
// optional checksums and content size; skippable frames skipped) and the
// legacy format the Linux kernel's initramfs uses (magic 0x184C2102:
// blocks that each decode to at most 8 MiB). Frames may follow one
// another. Memory is fixed: a block, and the 64 KiB a linked block may
// refer back to.
type LZ4Reader struct {
	r      *bufio.Reader
	legacy bool
	frame  bool // inside a frame (not legacy)
	indep  bool
	bsum   bool
	csum   bool
	max    int
	hist   []byte // what was decoded: the last 64 KiB, then the block
	out    []byte // decoded bytes not yet returned
	in     []byte
	err    error
}

const (
	lz4Magic       = 0x184D2204
	lz4LegacyMagic = 0x184C2102
	lz4Window      = 64 << 10
)

// NewLZ4Reader decodes the LZ4 stream r reads; it fails when r does not
// start with a frame or the legacy magic.
func NewLZ4Reader(r io.Reader) (*LZ4Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	z := &LZ4Reader{r: br}
	if err := z.next(); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return z, nil
}

// next reads the magic number and header of the next frame; io.EOF at
// the end of the stream.
func (z *LZ4Reader) next() error {
	for {
		var m [4]byte
		if _, err := io.ReadFull(z.r, m[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("truncated frame magic")
			}
			return err
		}
		magic := binary.LittleEndian.Uint32(m[:])
		switch {
		case magic == lz4LegacyMagic:
			z.legacy, z.frame = true, false
			return nil
		case magic&0xfffffff0 == 0x184D2A50:
			var n [4]byte
			if _, err := io.ReadFull(z.r, n[:]); err != nil {
				return errors.New("truncated skippable frame")
			}
			if _, err := z.r.Discard(int(binary.LittleEndian.Uint32(n[:]))); err != nil {
				return errors.New("truncated skippable frame")
			}
			continue
		case magic != lz4Magic:
			return fmt.Errorf("not an LZ4 frame (magic %#x)", magic)
		}
		var d [2]byte
		if _, err := io.ReadFull(z.r, d[:]); err != nil {
			return errors.New("truncated frame header")
		}
		flg, bd := d[0], d[1]
		if flg>>6 != 1 || flg&2 != 0 || bd&0x8f != 0 {
			return errors.New("a frame header of an unknown version")
		}
		z.indep, z.bsum, z.csum = flg&0x20 != 0, flg&0x10 != 0, flg&0x04 != 0
		switch bd >> 4 & 7 {
		case 4:
			z.max = 64 << 10
		case 5:
			z.max = 256 << 10
		case 6:
			z.max = 1 << 20
		case 7:
			z.max = 4 << 20
		default:
			return errors.New("a frame header with an unknown block size")
		}
		skip := 1 // the header checksum
		if flg&0x08 != 0 {
			skip += 8 // content size
		}
		if flg&0x01 != 0 {
			skip += 4 // dictionary id
		}
		if _, err := z.r.Discard(skip); err != nil {
			return errors.New("truncated frame header")
		}
		z.legacy, z.frame = false, true
		z.hist = z.hist[:0]
		return nil
	}
}

func (z *LZ4Reader) Read(p []byte) (int, error) {
	for len(z.out) == 0 {
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.block()
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

// block decodes the next block into z.out.
func (z *LZ4Reader) block() error {
	var sz [4]byte
	if _, err := io.ReadFull(z.r, sz[:]); err != nil {
		if z.legacy && errors.Is(err, io.EOF) {
			return io.EOF
		}
		return errors.New("truncated block size")
	}
	size := binary.LittleEndian.Uint32(sz[:])
	if z.legacy {
		if size == lz4LegacyMagic || size == lz4Magic {
			return z.restart(sz[:])
		}
		return z.decodeBlock(int(size), false, 8<<20)
	}
	if size == 0 { // the end mark
		if z.csum {
			if _, err := z.r.Discard(4); err != nil {
				return errors.New("truncated content checksum")
			}
		}
		if _, err := z.r.Peek(1); err != nil {
			return io.EOF
		}
		if err := z.next(); err != nil {
			return err
		}
		return nil
	}
	raw := size&0x80000000 != 0
	size &^= 0x80000000
	if int(size) > z.max {
		return fmt.Errorf("a block of %d bytes in a frame of %d-byte blocks", size, z.max)
	}
	if err := z.decodeBlock(int(size), raw, z.max); err != nil {
		return err
	}
	if z.bsum {
		if _, err := z.r.Discard(4); err != nil {
			return errors.New("truncated block checksum")
		}
	}
	return nil
}

// restart begins a new stream after a legacy one, whose magic was read
// as a block size.
func (z *LZ4Reader) restart(magic []byte) error {
	switch binary.LittleEndian.Uint32(magic) {
	case lz4LegacyMagic:
		z.legacy = true
		return nil
	}
	// A frame: put its magic back through a reader that yields it first.
	z.r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(append([]byte(nil), magic...)), z.r), 64<<10)
	return z.next()
}

// decodeBlock reads a block of size bytes and decodes it (raw: stored),
// to at most max bytes.
func (z *LZ4Reader) decodeBlock(size int, raw bool, max int) error {
	if cap(z.in) < size {
		z.in = make([]byte, size)
	}
	in := z.in[:size]
	if _, err := io.ReadFull(z.r, in); err != nil {
		return errors.New("truncated block")
	}
	// Keep what a linked block may refer back to.
	keep := 0
	if z.frame && !z.indep {
		keep = min(len(z.hist), lz4Window)
	}
	if need := keep + max; cap(z.hist) < need {
		h := make([]byte, keep, need)
		copy(h, z.hist[len(z.hist)-keep:])
		z.hist = h
	} else {
		copy(z.hist[:keep], z.hist[len(z.hist)-keep:])
		z.hist = z.hist[:keep]
	}
	if raw {
		z.hist = append(z.hist, in...)
	} else {
		var err error
		if z.hist, err = lz4Block(z.hist, in, keep+max); err != nil {
			return err
		}
	}
	z.out = z.hist[keep:]
	return nil
}

// lz4Block appends the decoding of one LZ4 block to dst (whose bytes a
// match may refer back to), up to limit bytes in all.
func lz4Block(dst, src []byte, limit int) ([]byte, error) {
	corrupt := errors.New("corrupt LZ4 block")
	i := 0
	for i < len(src) {
		tok := src[i]
		i++
		lit := int(tok >> 4)
		if lit == 15 {
			for {
				if i >= len(src) {
					return dst, corrupt
				}
				b := src[i]
				i++
				lit += int(b)
				if b != 255 {
					break
				}
			}
		}
		if i+lit > len(src) || len(dst)+lit > limit {
			return dst, corrupt
		}
		dst = append(dst, src[i:i+lit]...)
		i += lit
		if i == len(src) {
			return dst, nil // the last sequence holds literals only
		}
		if i+2 > len(src) {
			return dst, corrupt
		}
		off := int(binary.LittleEndian.Uint16(src[i:]))
		i += 2
		if off == 0 || off > len(dst) {
			return dst, corrupt
		}
		ml := int(tok & 15)
		if ml == 15 {
			for {
				if i >= len(src) {
					return dst, corrupt
				}
				b := src[i]
				i++
				ml += int(b)
				if b != 255 {
					break
				}
			}
		}
		ml += 4
		if len(dst)+ml > limit {
			return dst, corrupt
		}
		from := len(dst) - off
		if off >= ml {
			dst = append(dst, dst[from:from+ml]...)
			continue
		}
		for k := 0; k < ml; k++ { // the match overlaps what it writes
			dst = append(dst, dst[from+k])
		}
	}
	return dst, nil
}
