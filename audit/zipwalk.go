package audit

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/ulikunitz/xz/lzma"

	"github.com/sealenv/sealenv/audit/internal/decode"
)

// zip walks a zip archive as a stream, by its local file headers, as jar
// and zip tools write them, then reads its central directory and checks
// that it names no entry the local headers did not reach (an entry
// hidden from a streaming reader). Stored entries are part of the stream
// s (their bytes are searched there); compressed ones are decoded and
// searched as streams of their own. An entry stored with a data
// descriptor (a zip written to a pipe) ends where a descriptor whose CRC
// and size match what came before it is.
func (w *walker) zip(cr *countReader, s *stream, base int64, prefix string) error {
	fail := func(format string, a ...any) error {
		return structural(fmt.Errorf("%szip: %s", where(prefix), fmt.Sprintf(format, a...)))
	}
	undecodable := func(name string, err error) error {
		return &decodeError{name: strings.TrimSuffix(prefix, "!/") + "!/" + name, kind: "zip entry", err: err}
	}
	locals := map[int64]bool{}
	var hdr [30]byte
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		sig, err := cr.r.Peek(4)
		if err != nil {
			if errors.Is(err, io.EOF) && len(sig) == 0 {
				return nil // a zip with no central directory; what was there was read
			}
			return fail("truncated")
		}
		if binary.LittleEndian.Uint32(sig) != 0x04034b50 {
			switch string(sig) {
			case "PK\x01\x02", "PK\x05\x06", "PK\x06\x06", "PK\x06\x08", "PK\x05\x05":
			default:
				// Not the central directory: bytes between the entries and
				// it can hide more entries (see checkDirectory).
				return fail("bytes that are not a zip record at offset %d, after the entries", cr.n)
			}
			break // the central directory follows the entries
		}
		start := cr.n
		locals[start] = true
		if _, err := io.ReadFull(cr, hdr[:]); err != nil {
			return fail("truncated header")
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		csize := int64(binary.LittleEndian.Uint32(hdr[18:]))
		nameLen := int(binary.LittleEndian.Uint16(hdr[26:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		meta := make([]byte, nameLen+extraLen)
		if _, err := io.ReadFull(cr, meta); err != nil {
			return fail("truncated header")
		}
		name := cleanPath(string(meta[:nameLen]))
		full := prefix + name
		s.att.close(span{start: base + start + 30, end: base + start + 30 + int64(nameLen), path: full, part: partName})
		s.att.close(span{start: base + start, end: base + cr.n, path: full, part: partHeader})
		zip64 := false
		for e := meta[nameLen:]; len(e) >= 4; {
			id, sz := binary.LittleEndian.Uint16(e), int(binary.LittleEndian.Uint16(e[2:]))
			if id == 1 {
				zip64 = true
				if sz >= 16 && len(e) >= 4+16 {
					csize = int64(binary.LittleEndian.Uint64(e[12:]))
				}
			}
			if len(e) < 4+sz {
				break
			}
			e = e[4+sz:]
		}
		if flags&1 != 0 {
			return undecodable(name, errors.New("encrypted"))
		}
		descriptor := flags&8 != 0
		dataStart := cr.n
		isDir := strings.HasSuffix(string(meta[:nameLen]), "/") || nameLen == 0
		switch {
		case method == 0 && !descriptor:
			body := io.LimitReader(cr, csize)
			if !isDir {
				if err := w.file(body, s, base+dataStart, full); err != nil {
					return err
				}
			}
			if _, err := io.CopyBuffer(io.Discard, body, w.discard); err != nil {
				return fail("%s: %v", name, err)
			}
			if cr.n-dataStart != csize {
				return fail("%s: truncated", name)
			}
		case method == 0:
			// Stored, its size only in the descriptor after it.
			body := &descriptorReader{cr: cr}
			if !isDir {
				if err := w.file(body, s, base+dataStart, full); err != nil {
					return err
				}
			}
			if _, err := io.CopyBuffer(io.Discard, body, w.discard); err != nil {
				return fail("%s: %v", name, err)
			}
			if body.dlen == 20 {
				zip64 = true
			}
		default:
			size := csize
			if descriptor {
				size = -1
			}
			dec, err := zipDecoder(method, cr, size, &w.lim)
			if err != nil {
				return undecodable(name, err)
			}
			if isDir {
				_, err = io.CopyBuffer(io.Discard, dec, w.discard)
			} else {
				err = w.decoded(dec, full, func(ds *stream) error { return w.file(ds, ds, 0, full) })
			}
			if c, ok := dec.(io.Closer); ok {
				c.Close()
			}
			if err != nil {
				if w.ctx.Err() != nil {
					return w.ctx.Err()
				}
				var le *limitError
				if errors.As(err, &le) {
					return fmt.Errorf("%s %w", full, err)
				}
				return undecodable(name, err)
			}
		}
		s.att.close(span{start: base + dataStart, end: base + cr.n, path: full, part: partData})
		if descriptor {
			d0 := cr.n
			d, err := cr.r.Peek(4)
			if err == nil && binary.LittleEndian.Uint32(d) == 0x08074b50 {
				cr.r.Discard(4)
				cr.n += 4
			}
			n := 12
			if zip64 {
				n = 20
			}
			m, err := cr.r.Discard(n)
			cr.n += int64(m)
			if err != nil {
				return fail("truncated data descriptor")
			}
			s.att.close(span{start: base + d0, end: base + cr.n, path: full, part: partHeader})
		}
	}
	return w.zipDirectory(cr, s, base, prefix, locals)
}

// zipDecoder opens the data of a zip entry compressed with method: the
// methods zip, jar and 7-Zip tools write. cr is read byte by byte where
// the decoder allows it, so that it stops at the entry's end; size is the
// entry's compressed size from its local header, -1 when only a data
// descriptor after the data holds it.
func zipDecoder(method uint16, cr *countReader, size int64, lim *limits) (io.Reader, error) {
	switch method {
	case 8:
		return flate.NewReader(cr), nil // cr is an io.ByteReader: no read-ahead
	case 12:
		return bzip2.NewReader(cr), nil
	case 14:
		// LZMA: a version, the size of the properties, the properties.
		var h [4]byte
		if _, err := io.ReadFull(cr, h[:]); err != nil {
			return nil, err
		}
		props := make([]byte, binary.LittleEndian.Uint16(h[2:]))
		if _, err := io.ReadFull(cr, props); err != nil || len(props) != 5 {
			return nil, errors.New("malformed LZMA properties")
		}
		if d := int64(binary.LittleEndian.Uint32(props[1:])); d > lim.window {
			return nil, windowError(d, lim.window)
		}
		hdr := append(props, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		return lzma.ReaderConfig{DictCap: int(min(lim.window, lzma.MaxDictCap))}.NewReader(io.MultiReader(bytes.NewReader(hdr), cr))
	case 93:
		return decompressor(fmtZstd, cr, lim)
	case 95:
		// The xz reader reads past a stream's end to make sure nothing
		// follows: it is given the entry's bytes alone.
		if size < 0 {
			return nil, errors.New("an xz entry whose size is only in the data descriptor after it: where it ends is not known")
		}
		window := lim.window
		if window <= 0 {
			window = defaultMaxWindow
		}
		// Every block's header is checked before the decoder sees the
		// block (see decompressor).
		return xzErrors{decode.NewXzDecoder(io.LimitReader(cr, size), window, true, newLzma2), window}, nil
	}
	return nil, fmt.Errorf("compression method %d, which the audit does not decode", method)
}

// descriptorReader reads a stored zip entry whose size is only in the
// data descriptor after it: it ends before the first descriptor (with or
// without its signature, with 32- or 64-bit sizes) whose CRC-32 and sizes
// are those of the bytes before it. dlen is then the descriptor's length
// (without the signature).
type descriptorReader struct {
	cr    *countReader
	crc   uint32
	n     int64
	done  bool
	dlen  int
	cands []int
}

func (d *descriptorReader) Read(p []byte) (int, error) {
	if d.done {
		return 0, io.EOF
	}
	const look = 4 + 20 + 4 // a signature, a zip64 descriptor, the next signature
	b, err := d.cr.r.Peek(d.cr.r.Size())
	if len(b) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	// The bytes that can be data: all but the last look, unless the file
	// ends within them.
	avail := len(b)
	if err == nil {
		avail -= look
	}
	avail = min(avail, len(p))
	// Candidate ends: a descriptor's signature, or the next record's
	// signature right after a descriptor without one.
	d.cands = d.cands[:0]
	for q := 0; q < len(b); q++ {
		k := bytes.Index(b[q:], []byte("PK"))
		if k < 0 {
			break
		}
		q += k
		if q > avail+20 || q+4 > len(b) {
			break
		}
		switch string(b[q : q+4]) {
		case "PK\x07\x08":
			if q <= avail {
				d.cands = append(d.cands, q)
			}
		case "PK\x03\x04", "PK\x01\x02":
			for _, dl := range []int{12, 20} {
				if c := q - dl; c >= 0 && c <= avail {
					d.cands = append(d.cands, c)
				}
			}
		}
	}
	slices.Sort(d.cands)
	crc, last := d.crc, 0
	for _, c := range d.cands {
		if c < last {
			continue
		}
		crc = crc32.Update(crc, crc32.IEEETable, b[last:c])
		last = c
		if d.matches(b, c, crc) {
			k, _ := io.ReadFull(d.cr, p[:c])
			d.crc = crc32.Update(d.crc, crc32.IEEETable, p[:k])
			d.n += int64(k)
			d.done = true
			if k == 0 {
				return 0, io.EOF
			}
			return k, nil
		}
	}
	if avail <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k, rerr := io.ReadFull(d.cr, p[:avail])
	d.crc = crc32.Update(d.crc, crc32.IEEETable, p[:k])
	d.n += int64(k)
	return k, rerr
}

// matches reports whether a descriptor for the data before b[c] (whose
// CRC-32 is crc) is at c, and sets dlen.
func (d *descriptorReader) matches(b []byte, c int, crc uint32) bool {
	n := d.n + int64(c)
	check := func(at, dlen int) bool {
		if at+dlen > len(b) || binary.LittleEndian.Uint32(b[at:]) != crc {
			return false
		}
		if dlen == 20 {
			return int64(binary.LittleEndian.Uint64(b[at+4:])) == n && int64(binary.LittleEndian.Uint64(b[at+12:])) == n
		}
		return int64(binary.LittleEndian.Uint32(b[at+4:])) == n && int64(binary.LittleEndian.Uint32(b[at+8:])) == n
	}
	next := func(at int) bool {
		return at+4 <= len(b) && (string(b[at:at+4]) == "PK\x03\x04" || string(b[at:at+4]) == "PK\x01\x02")
	}
	if c+4 <= len(b) && string(b[c:c+4]) == "PK\x07\x08" {
		for _, dl := range []int{12, 20} {
			if check(c+4, dl) {
				d.dlen = dl
				return true
			}
		}
	}
	for _, dl := range []int{12, 20} {
		if next(c+dl) && check(c, dl) {
			d.dlen = dl
			return true
		}
	}
	return false
}

// zipDirectory reads the central directory and end records that follow
// a zip's entries, places the names they repeat, and checks every entry
// they name against the local headers walked (locals, by offset from the
// zip's first byte).
func (w *walker) zipDirectory(cr *countReader, s *stream, base int64, prefix string, locals map[int64]bool) error {
	fail := func(format string, a ...any) error {
		return structural(fmt.Errorf("%szip: %s", where(prefix), fmt.Sprintf(format, a...)))
	}
	cdAt := cr.n
	var offsets []int64
	var fixed [46]byte
	for {
		sig, _ := cr.r.Peek(4)
		if len(sig) < 4 || string(sig) != "PK\x01\x02" {
			break
		}
		start := cr.n
		if _, err := io.ReadFull(cr, fixed[:]); err != nil {
			return fail("truncated central directory")
		}
		nameLen := int(binary.LittleEndian.Uint16(fixed[28:]))
		extraLen := int(binary.LittleEndian.Uint16(fixed[30:]))
		commentLen := int(binary.LittleEndian.Uint16(fixed[32:]))
		meta := make([]byte, nameLen+extraLen+commentLen)
		if _, err := io.ReadFull(cr, meta); err != nil {
			return fail("truncated central directory")
		}
		full := prefix + cleanPath(string(meta[:nameLen]))
		s.att.close(span{start: base + start + 46, end: base + start + 46 + int64(nameLen), path: full, part: partName})
		s.att.close(span{start: base + start, end: base + cr.n, path: full, part: partHeader})
		off := int64(binary.LittleEndian.Uint32(fixed[42:]))
		if off == 0xffffffff {
			// The zip64 extra field holds, in order, the sizes that
			// overflowed and then the offset.
			e := meta[nameLen : nameLen+extraLen]
			for len(e) >= 4 {
				id, sz := binary.LittleEndian.Uint16(e), int(binary.LittleEndian.Uint16(e[2:]))
				if len(e) < 4+sz {
					break
				}
				if id == 1 {
					k := 0
					if binary.LittleEndian.Uint32(fixed[24:]) == 0xffffffff {
						k += 8
					}
					if binary.LittleEndian.Uint32(fixed[20:]) == 0xffffffff {
						k += 8
					}
					if k+8 <= sz {
						off = int64(binary.LittleEndian.Uint64(e[4+k:]))
					}
				}
				e = e[4+sz:]
			}
		}
		offsets = append(offsets, off)
	}
	cdEnd := cr.n
	// The zip64 end record and its locator, then the end record.
	recordedCD := int64(-1)
	for {
		sig, _ := cr.r.Peek(4)
		if len(sig) < 4 {
			break
		}
		start := cr.n
		switch string(sig) {
		case "PK\x06\x06":
			b, _ := cr.r.Peek(56)
			if len(b) < 56 {
				return fail("truncated zip64 end record")
			}
			size := binary.LittleEndian.Uint64(b[4:])
			if size > 1<<20 {
				return fail("a zip64 end record of %d bytes", size)
			}
			recordedCD = int64(binary.LittleEndian.Uint64(b[48:]))
			if _, err := io.CopyN(io.Discard, cr, int64(size)+12); err != nil {
				return fail("truncated zip64 end record")
			}
		case "PK\x06\x07":
			if _, err := io.CopyN(io.Discard, cr, 20); err != nil {
				return fail("truncated zip64 locator")
			}
		case "PK\x05\x06":
			b, _ := cr.r.Peek(22)
			if len(b) < 22 {
				return fail("truncated end record")
			}
			if off := binary.LittleEndian.Uint32(b[16:]); off != 0xffffffff {
				recordedCD = int64(off)
			}
			comment := int64(binary.LittleEndian.Uint16(b[20:]))
			if _, err := io.CopyN(io.Discard, cr, 22+comment); err != nil {
				return fail("truncated end record")
			}
			s.att.close(span{start: base + start, end: base + cr.n, path: strings.TrimSuffix(prefix, "!/"), part: partTrailer})
			return w.checkDirectory(prefix, offsets, locals, cdAt, cdEnd, recordedCD)
		default:
			return w.checkDirectory(prefix, offsets, locals, cdAt, cdEnd, recordedCD)
		}
	}
	return w.checkDirectory(prefix, offsets, locals, cdAt, cdEnd, recordedCD)
}

// checkDirectory compares the local header offsets the central directory
// names with those walked. Offsets are relative to the zip's start, or to
// the file's when a tool adjusted them (a launch script before the zip):
// the end record's central directory offset against where it was found
// gives the shift.
func (w *walker) checkDirectory(prefix string, offsets []int64, locals map[int64]bool, cdAt, cdEnd, recordedCD int64) error {
	if len(offsets) == 0 {
		return nil
	}
	shift := int64(0)
	if recordedCD >= 0 {
		shift = cdAt - recordedCD
	} else {
		lowest := offsets[0]
		for _, o := range offsets {
			lowest = min(lowest, o)
		}
		shift = -lowest
	}
	for _, o := range offsets {
		if !locals[o+shift] {
			return &decodeError{name: strings.TrimSuffix(prefix, "!/"), kind: "zip", err: fmt.Errorf("the central directory names an entry at offset %d that the local headers do not reach (an entry a streaming reader does not see)", o+shift)}
		}
	}
	return nil
}
