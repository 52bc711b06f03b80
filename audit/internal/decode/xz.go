package decode

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
)

// An XzLimitError says that an xz stream asks for more memory than the
// limit [newXzReader] was given: a block's LZMA2 dictionary (Dict), or
// more blocks in one stream than the decoder's index may hold (Blocks).
type XzLimitError struct {
	Dict   int64 // the dictionary a block asks for, or 0
	Blocks int64 // the blocks of one stream so far, or 0
	Offset int64 // where the block starts in the input
}

func (e *XzLimitError) Error() string {
	if e.Dict > 0 {
		return fmt.Sprintf("xz block at byte %d: a dictionary of %d bytes", e.Offset, e.Dict)
	}
	return fmt.Sprintf("xz block at byte %d: more than %d blocks in one stream", e.Offset, e.Blocks)
}

// xzIndexRecord is what a decoder keeps for each block of a stream until
// the stream's index is read: two 64-bit sizes, held twice (the blocks
// seen and the index's records), with room to grow.
const xzIndexRecord = 64

// newXzReader returns a reader that passes the xz data r holds (one or
// more streams, with stream padding between them) on unchanged, after
// following its container structure without decoding: the stream header,
// each block header, the LZMA2 chunks that end a block, the block's
// padding and check, the index, the stream footer and the padding before
// the next stream. A block's bytes are passed on only after its header
// was read whole and its dictionary found within window; a larger one,
// or more blocks in one stream than window/64 (what a decoder keeps per
// block), is an [*XzLimitError]. A block whose filter chain is not a
// lone LZMA2 filter, a reserved bit, a bad header checksum, a size field
// that does not parse, or data that ends inside a structure is an error:
// nothing is passed on that was not followed. [NewXzDecoder] decodes
// through it; passed on whole it is not enough to bound a decoder that
// reads the stream whole (ulikunitz/xz reads a chunk's unused packed
// bytes as the next chunk, where a block header it never checked can
// hide), which is why the audit decodes block by block.
func newXzReader(r io.Reader, window int64) io.Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 4096)
	}
	x := &xzReader{br: br, window: window}
	x.next = x.streamHeader
	return x
}

type xzReader struct {
	br     *bufio.Reader
	window int64
	next   func() error // parses the next structure into pend
	pend   []byte       // followed bytes not yet returned
	buf    [1024]byte   // the largest block header
	left   int          // bytes of an LZMA2 chunk still to pass on
	off    int64        // input bytes taken so far
	err    error

	checkLen int     // the size of a block's check field
	flags    [2]byte // the stream flags
	blocks   int64   // blocks of this stream so far
	unpadded int64   // the block's header and compressed data so far
	records  uint64  // index records still to read
	indexLen int64   // the index's bytes so far

	onBlock func(at, dict int64) // for tests: each block header checked

	// Set for the decoder (NewXzDecoder):
	dict        int64   // the dictionary of the block whose header was read last
	newBlock    bool    // a block header was just read
	blockDone   bool    // the block's end control byte is taken
	sums        *xzSums // the blocks' and the index's sizes, compared at the index's end
	afterFooter bool    // a stream's footer was read last
	hsize       int64   // the block header's size
	csize       int64   // the compressed size the block header gives, or -1
	usize       int64   // the uncompressed size it gives, or -1
}

// xzSums compares what the blocks of a stream were with what its index
// says they were, as a running hash of each side's (unpadded size,
// uncompressed size) pairs.
type xzSums struct {
	blocks, index hash.Hash
	out           int64       // the uncompressed size of the block being decoded
	crc           hash.Hash32 // the index's bytes, for its CRC-32
	indexSize     int64       // the index's size, for the footer's backward size
}

func (s *xzSums) reset() {
	s.blocks, s.index, s.out, s.crc, s.indexSize = sha256.New(), sha256.New(), 0, crc32.NewIEEE(), 0
}

func addPair(h hash.Hash, a, b uint64) {
	var p [16]byte
	binary.LittleEndian.PutUint64(p[:], a)
	binary.LittleEndian.PutUint64(p[8:], b)
	h.Write(p[:])
}

func (x *xzReader) Read(p []byte) (int, error) { return x.read(p, false) }

// read passes on what was followed; with block, only the LZMA2 data of
// the block being read, then io.EOF after its end byte.
func (x *xzReader) read(p []byte, block bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(x.pend) > 0 {
			n := copy(p, x.pend)
			x.pend = x.pend[n:]
			return n, nil
		}
		if x.left > 0 {
			if n, err := x.readChunk(p); n > 0 || err == nil {
				return n, nil
			}
		}
		if x.err != nil {
			return 0, x.err
		}
		if block && x.blockDone {
			return 0, io.EOF
		}
		if err := x.next(); err != nil {
			// Nothing of a structure that did not parse is passed on.
			x.pend = nil
			x.left = 0
			x.err = err
		}
	}
}

// readChunk passes on the data of an LZMA2 chunk, at most x.left bytes;
// data that ends inside it is an error (x.err).
func (x *xzReader) readChunk(p []byte) (int, error) {
	if len(p) > x.left {
		p = p[:x.left]
	}
	n, err := x.br.Read(p)
	x.left -= n
	x.off += int64(n)
	x.unpadded += int64(n)
	if n > 0 {
		return n, nil
	}
	if err == nil {
		return 0, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	x.err = fmt.Errorf("xz data ends inside an LZMA2 chunk at byte %d: %w", x.off, err)
	x.left = 0
	return 0, x.err
}

// take reads n bytes and queues them to be passed on.
func (x *xzReader) take(n int, what string) ([]byte, error) {
	b := x.buf[:n]
	k, err := io.ReadFull(x.br, b)
	x.off += int64(k)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("xz data ends inside %s at byte %d: %w", what, x.off, err)
	}
	x.pend = b
	return b, nil
}

func (x *xzReader) fail(what string, at int64, why string) error {
	return fmt.Errorf("xz %s at byte %d: %s", what, at, why)
}

// xzCheckLen is the size of the check field for each check type.
func xzCheckLen(t byte) int {
	if t == 0 {
		return 0
	}
	return 4 << ((t - 1) / 3)
}

func (x *xzReader) streamHeader() error {
	at := x.off
	h, err := x.take(12, "a stream header")
	if err != nil {
		return err
	}
	if string(h[:6]) != "\xfd7zXZ\x00" {
		return x.fail("stream header", at, "not an xz stream")
	}
	if h[6] != 0 || h[7]&0xf0 != 0 {
		return x.fail("stream header", at, "reserved flags set")
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return x.fail("stream header", at, "checksum does not match")
	}
	x.flags = [2]byte{h[6], h[7]}
	x.checkLen = xzCheckLen(h[7])
	x.blocks = 0
	if x.sums != nil {
		if c := h[7]; c != 0 && c != 1 && c != 4 && c != 10 {
			return x.fail("stream header", at, fmt.Sprintf("check type %d, which the decoder does not have", c))
		}
		x.sums.reset()
	}
	x.next = x.blockOrIndex
	return nil
}

func (x *xzReader) blockOrIndex() error {
	at := x.off
	b, err := x.br.Peek(1)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("xz data ends before a block or the index at byte %d: %w", at, err)
	}
	if b[0] == 0 {
		return x.indexStart()
	}
	size := (int(b[0]) + 1) * 4
	h, err := x.take(size, "a block header")
	if err != nil {
		return err
	}
	n := size - 4
	if crc32.ChecksumIEEE(h[:n]) != binary.LittleEndian.Uint32(h[n:]) {
		return x.fail("block header", at, "checksum does not match")
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return x.fail("block header", at, "reserved flags set")
	}
	if flags&3 != 0 {
		return x.fail("block header", at, fmt.Sprintf("a chain of %d filters, which the decoder does not have (only LZMA2 alone)", flags&3+1))
	}
	i := 2
	x.csize, x.usize = -1, -1
	if flags&0x40 != 0 {
		var v uint64
		if v, i, err = xzVarint(h[:n], i); err != nil {
			return x.fail("block header", at, "compressed size: "+err.Error())
		}
		x.csize = int64(v & (1<<62 - 1))
	}
	if flags&0x80 != 0 {
		var v uint64
		if v, i, err = xzVarint(h[:n], i); err != nil {
			return x.fail("block header", at, "uncompressed size: "+err.Error())
		}
		x.usize = int64(v & (1<<62 - 1))
	}
	id, i, err := xzVarint(h[:n], i)
	if err != nil {
		return x.fail("block header", at, "filter ID: "+err.Error())
	}
	if id != 0x21 {
		return x.fail("block header", at, fmt.Sprintf("filter 0x%x, which the decoder does not have (only LZMA2 alone)", id))
	}
	plen, i, err := xzVarint(h[:n], i)
	if err != nil || plen != 1 || i >= n {
		return x.fail("block header", at, "malformed LZMA2 properties")
	}
	prop := h[i]
	for _, c := range h[i+1 : n] {
		if c != 0 {
			return x.fail("block header", at, "padding is not zero")
		}
	}
	if prop > 40 {
		return x.fail("block header", at, "invalid LZMA2 dictionary size")
	}
	if d := Lzma2Dict(prop); d > x.window {
		return &XzLimitError{Dict: d, Offset: at}
	}
	x.blocks++
	if x.blocks > x.window/xzIndexRecord {
		return &XzLimitError{Blocks: x.window / xzIndexRecord, Offset: at}
	}
	if x.onBlock != nil {
		x.onBlock(at, Lzma2Dict(prop))
	}
	x.dict, x.newBlock, x.blockDone = Lzma2Dict(prop), true, false
	x.unpadded, x.hsize = int64(size), int64(size)
	x.next = x.chunk
	return nil
}

// xzVarint decodes a multibyte integer of the xz format at b[i:]: at most
// nine bytes, none after the first of them zero at the end.
func xzVarint(b []byte, i int) (uint64, int, error) {
	var v uint64
	for k := 0; k < 9; k++ {
		if i >= len(b) {
			return 0, i, errors.New("runs past its field")
		}
		c := b[i]
		i++
		if k > 0 && c == 0 {
			return 0, i, errors.New("not in its shortest form")
		}
		v |= uint64(c&0x7f) << (7 * k)
		if c&0x80 == 0 {
			return v, i, nil
		}
	}
	return 0, i, errors.New("longer than nine bytes")
}

// chunk follows one LZMA2 chunk header; the chunk's data is then passed
// on by Read.
func (x *xzReader) chunk() error {
	at := x.off
	c, err := x.br.Peek(1)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("xz data ends inside a block at byte %d: %w", at, err)
	}
	switch ctl := c[0]; {
	case ctl == 0:
		if _, err := x.take(1, "a block"); err != nil {
			return err
		}
		x.unpadded++
		x.blockDone = true
		x.next = x.blockEnd
	case ctl == 1 || ctl == 2:
		// An uncompressed chunk: its size.
		h, err := x.take(3, "an LZMA2 chunk header")
		if err != nil {
			return err
		}
		x.unpadded += 3
		x.left = int(binary.BigEndian.Uint16(h[1:])) + 1
	case ctl >= 0x80:
		// An LZMA chunk: its unpacked and packed sizes, and from 0xc0 on
		// new properties.
		n := 5
		if ctl >= 0xc0 {
			n = 6
		}
		h, err := x.take(n, "an LZMA2 chunk header")
		if err != nil {
			return err
		}
		if n == 6 && h[5] >= 9*5*5 {
			return x.fail("LZMA2 chunk", at, "invalid properties")
		}
		x.unpadded += int64(n)
		x.left = int(binary.BigEndian.Uint16(h[3:])) + 1
	default:
		return x.fail("LZMA2 chunk", at, fmt.Sprintf("invalid control byte 0x%02x", ctl))
	}
	return nil
}

// blockEnd follows the block's padding and its check.
func (x *xzReader) blockEnd() error {
	at := x.off
	pad := int(-x.unpadded & 3)
	b, err := x.take(pad+x.checkLen, "a block's padding and check")
	if err != nil {
		return err
	}
	for _, c := range b[:pad] {
		if c != 0 {
			return x.fail("block padding", at, "not zero")
		}
	}
	x.blockDone = false
	if x.sums != nil {
		if x.csize >= 0 && x.csize != x.unpadded-x.hsize || x.usize >= 0 && x.usize != x.sums.out {
			return x.fail("block", at, "its sizes are not those its header gives")
		}
		addPair(x.sums.blocks, uint64(x.unpadded+int64(x.checkLen)), uint64(x.sums.out))
	}
	x.next = x.blockOrIndex
	return nil
}

// indexStart follows the index indicator and the number of records.
func (x *xzReader) indexStart() error {
	at := x.off
	if _, err := x.take(1, "the index"); err != nil {
		return err
	}
	if x.sums != nil {
		x.sums.crc.Write([]byte{0})
	}
	x.indexLen = 1
	n, err := x.varint("the index")
	if err != nil {
		return err
	}
	if n != uint64(x.blocks) {
		return x.fail("index", at, fmt.Sprintf("lists %d blocks, the stream has %d", n, x.blocks))
	}
	x.records = n
	x.next = x.indexRecord
	return nil
}

// varint reads one multibyte integer from the input, queued to be passed
// on.
func (x *xzReader) varint(what string) (uint64, error) {
	at := x.off
	var b [9]byte
	for k := range b {
		c, err := x.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("xz data ends inside %s at byte %d: %w", what, x.off, err)
		}
		x.off++
		x.indexLen++
		b[k] = c
		if c&0x80 == 0 {
			x.pend = append(x.pend, b[:k+1]...)
			if x.sums != nil {
				x.sums.crc.Write(b[:k+1])
			}
			v, _, err := xzVarint(b[:k+1], 0)
			if err != nil {
				return 0, x.fail(what, at, err.Error())
			}
			return v, nil
		}
	}
	return 0, x.fail(what, at, "an integer longer than nine bytes")
}

// indexRecord follows one record of the index (two sizes), or the index's
// padding and CRC-32 after the last.
func (x *xzReader) indexRecord() error {
	if x.records > 0 {
		x.pend = x.buf[:0]
		var v [2]uint64
		for i := range v {
			var err error
			if v[i], err = x.varint("an index record"); err != nil {
				return err
			}
		}
		if x.sums != nil {
			addPair(x.sums.index, v[0], v[1])
		}
		x.records--
		return nil
	}
	at := x.off
	pad := int(-x.indexLen & 3)
	b, err := x.take(pad+4, "the index's padding and CRC-32")
	if err != nil {
		return err
	}
	for _, c := range b[:pad] {
		if c != 0 {
			return x.fail("index padding", at, "not zero")
		}
	}
	if x.sums != nil {
		if !bytes.Equal(x.sums.blocks.Sum(nil), x.sums.index.Sum(nil)) {
			return x.fail("index", at, "its records are not the sizes of the stream's blocks")
		}
		x.sums.crc.Write(b[:pad])
		if x.sums.crc.Sum32() != binary.LittleEndian.Uint32(b[pad:]) {
			return x.fail("index", at, "checksum does not match")
		}
		x.sums.indexSize = x.indexLen + int64(pad) + 4
	}
	x.next = x.footer
	return nil
}

func (x *xzReader) footer() error {
	at := x.off
	f, err := x.take(12, "the stream footer")
	if err != nil {
		return err
	}
	if string(f[10:]) != "YZ" {
		return x.fail("stream footer", at, "its magic bytes are wrong")
	}
	if f[8] != x.flags[0] || f[9] != x.flags[1] {
		return x.fail("stream footer", at, "its flags are not the stream header's")
	}
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f) {
		return x.fail("stream footer", at, "checksum does not match")
	}
	if x.sums != nil && (int64(binary.LittleEndian.Uint32(f[4:]))+1)*4 != x.sums.indexSize {
		return x.fail("stream footer", at, "its backward size is not the index's")
	}
	x.afterFooter = true
	x.next = x.padding
	return nil
}

// padding follows stream padding (groups of four zero bytes) up to the
// end or the next stream.
func (x *xzReader) padding() error {
	at := x.off
	b, err := x.br.Peek(4)
	if len(b) == 0 && err == io.EOF {
		return io.EOF
	}
	if len(b) < 4 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("xz data ends inside stream padding at byte %d: %w", at, err)
	}
	x.afterFooter = false
	if string(b) == "\x00\x00\x00\x00" {
		_, err := x.take(4, "stream padding")
		return err
	}
	x.next = x.streamHeader
	return nil
}

// NewXzDecoder returns the data the xz stream(s) r holds, decoded block
// by block: the container is followed as [newXzReader] follows it (every
// block's dictionary checked against window before the block is read),
// and each block's LZMA2 data alone, from its first chunk to its end
// byte, is given to a decoder that lzma2 makes with that block's
// dictionary. The decoder must read all of it: LZMA2 data that ends
// before the block's chunks do (a chunk whose packed size says more than
// its data uses, whose rest would otherwise be read as the next chunk or
// block) is an error, as each block's check (CRC-32, CRC-64 or SHA-256)
// and the index's record of the blocks' sizes are verified here. With
// single, nothing may follow the first stream.
func NewXzDecoder(r io.Reader, window int64, single bool, lzma2 func(r io.Reader, dict int64) (io.Reader, error)) io.Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 4096)
	}
	x := &xzReader{br: br, window: window, sums: &xzSums{}}
	x.next = x.streamHeader
	return &xzDecoder{x: x, single: single, lzma2: lzma2}
}

type xzDecoder struct {
	x       *xzReader
	single  bool
	lzma2   func(io.Reader, int64) (io.Reader, error)
	out     io.Reader // the block being decoded
	check   hash.Hash // its check, or nil for none
	blockAt int64
	err     error
}

func (d *xzDecoder) Read(p []byte) (int, error) {
	x := d.x
	for {
		if d.err != nil {
			return 0, d.err
		}
		if d.out != nil {
			n, err := d.out.Read(p)
			if n > 0 {
				x.sums.out += int64(n)
				if d.check != nil {
					d.check.Write(p[:n])
				}
			}
			switch {
			case err == io.EOF:
				d.out = nil
				d.err = d.endBlock()
			case err != nil:
				var le *XzLimitError
				if !errors.As(err, &le) {
					err = fmt.Errorf("xz block at byte %d: %w", d.blockAt, err)
				}
				d.err = err
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		// Between blocks: the structure up to the next block header, or
		// the end.
		x.pend = nil
		if err := x.next(); err != nil {
			d.err = err
			continue
		}
		if x.newBlock {
			x.newBlock = false
			x.pend = nil
			d.blockAt = x.off
			d.check = newXzCheck(x.flags[1])
			x.sums.out = 0
			dec, err := d.lzma2(blockData{x}, x.dict)
			if err != nil {
				d.err = fmt.Errorf("xz block at byte %d: %w", d.blockAt, err)
				continue
			}
			d.out = dec
		}
		if d.single && x.afterFooter {
			d.err = d.singleEnd()
		}
	}
}

// endBlock follows a block's end once its decoder has read it: all of its
// LZMA2 data read, then its padding and check.
func (d *xzDecoder) endBlock() error {
	x := d.x
	if !x.blockDone || len(x.pend) > 0 || x.left > 0 {
		return x.fail("block", d.blockAt, "its LZMA2 data ends before its chunks do")
	}
	x.pend = nil
	if err := x.next(); err != nil { // blockEnd: padding and check
		return err
	}
	if d.check != nil {
		got := d.check.Sum(nil)
		if d.check.Size() != 32 { // CRC-32 and CRC-64 are stored little-endian
			for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
				got[i], got[j] = got[j], got[i]
			}
		}
		if !bytes.Equal(got, x.pend[len(x.pend)-x.checkLen:]) {
			return x.fail("block", d.blockAt, "its check does not match its data")
		}
	}
	x.pend = nil
	return nil
}

// singleEnd is the end of a decoder that takes one stream: nothing may
// follow its footer.
func (d *xzDecoder) singleEnd() error {
	if _, err := d.x.br.Peek(1); err == io.EOF {
		return io.EOF
	}
	return d.x.fail("stream", d.x.off, "data follows the stream")
}

func newXzCheck(t byte) hash.Hash {
	switch t {
	case 1:
		return crc32.NewIEEE()
	case 4:
		return crc64.New(crc64.MakeTable(crc64.ECMA))
	case 10:
		return sha256.New()
	}
	return nil
}

// blockData is a block's LZMA2 data, chunk headers included, up to and
// including its end byte; then io.EOF.
type blockData struct{ x *xzReader }

func (b blockData) Read(p []byte) (int, error) { return b.x.read(p, true) }
