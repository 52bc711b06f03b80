package audit

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/ulikunitz/xz/lzma"

	"github.com/sealenv/sealenv/audit/internal/decode"
)

// Property ids of the 7z header.
const (
	szEnd                   = 0x00
	szHeader                = 0x01
	szArchiveProperties     = 0x02
	szAdditionalStreamsInfo = 0x03
	szMainStreamsInfo       = 0x04
	szFilesInfo             = 0x05
	szPackInfo              = 0x06
	szUnpackInfo            = 0x07
	szSubStreamsInfo        = 0x08
	szSize                  = 0x09
	szCRC                   = 0x0a
	szFolderID              = 0x0b
	szCodersUnpackSize      = 0x0c
	szNumUnpackStream       = 0x0d
	szEmptyStream           = 0x0e
	szName                  = 0x11
	szEncodedHeader         = 0x17
)

type szCoder struct {
	id            string // hex
	numIn, numOut int
	props         []byte
}

type szFolder struct {
	coders      []szCoder
	bindIn      []int // bind pair i: in stream bindIn[i] takes out stream bindOut[i]
	bindOut     []int
	packed      []int   // in streams fed by pack streams, in order
	unpackSizes []int64 // one per out stream
	hasCRC      bool
	firstPack   int // index of its first pack stream
}

// maxSzStreams bounds the members of a 7z archive (their sizes are held).
const maxSzStreams = 1 << 22

type szStreams struct {
	packPos   int64
	packSizes []int64
	folders   []szFolder
	numUnpack []int   // sub-streams (files) per folder
	subSizes  []int64 // every sub-stream's size, folder after folder
}

// szReader reads the 7z header's numbers and bytes.
type szReader struct {
	b   []byte
	err error
}

var errSzTruncated = errors.New("truncated header")

func (r *szReader) byte() byte {
	if len(r.b) == 0 {
		r.err = errSzTruncated
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *szReader) bytes(n int64) []byte {
	if n < 0 || n > int64(len(r.b)) {
		r.err = errSzTruncated
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// number reads a 7z NUMBER: the high bits of the first byte say how
// many bytes follow.
func (r *szReader) number() int64 {
	first := r.byte()
	mask := byte(0x80)
	var v uint64
	for i := 0; i < 8; i++ {
		if first&mask == 0 {
			high := uint64(first & (mask - 1))
			v |= high << (8 * i)
			break
		}
		v |= uint64(r.byte()) << (8 * i)
		mask >>= 1
	}
	if v > 1<<50 {
		r.err = errors.New("a number out of range")
		return 0
	}
	return int64(v)
}

// count reads a number that counts items, each at least a byte of the
// header.
func (r *szReader) count() int {
	n := r.number()
	if n > int64(len(r.b))+1 {
		r.err = errors.New("a count larger than the header")
		return 0
	}
	return int(n)
}

func (r *szReader) bits(n int) []bool {
	out := make([]bool, n)
	var c byte
	for i := 0; i < n; i++ {
		if i%8 == 0 {
			c = r.byte()
		}
		out[i] = c&(0x80>>(i%8)) != 0
	}
	return out
}

// digests skips a list of n CRCs, returning which are defined.
func (r *szReader) digests(n int) []bool {
	var def []bool
	if r.byte() != 0 {
		def = make([]bool, n)
		for i := range def {
			def[i] = true
		}
	} else {
		def = r.bits(n)
	}
	for _, d := range def {
		if d {
			r.bytes(4)
		}
	}
	return def
}

func (r *szReader) streamsInfo() *szStreams {
	st := &szStreams{}
	for r.err == nil {
		switch id := r.byte(); id {
		case szEnd:
			return st
		case szPackInfo:
			st.packPos = r.number()
			n := r.count()
			for r.err == nil {
				k := r.byte()
				if k == szEnd {
					break
				}
				switch k {
				case szSize:
					st.packSizes = make([]int64, n)
					for i := range st.packSizes {
						st.packSizes[i] = r.number()
					}
				case szCRC:
					r.digests(n)
				default:
					r.err = fmt.Errorf("unknown pack property %#x", k)
				}
			}
		case szUnpackInfo:
			if r.byte() != szFolderID {
				r.err = errors.New("no folder list")
				return st
			}
			n := r.count()
			if r.byte() != 0 {
				r.err = errors.New("external folders")
				return st
			}
			st.folders = make([]szFolder, n)
			pack := 0
			for i := range st.folders {
				st.folders[i] = r.folder()
				st.folders[i].firstPack = pack
				pack += len(st.folders[i].packed)
			}
			if r.byte() != szCodersUnpackSize {
				r.err = errors.New("no unpack sizes")
				return st
			}
			for i := range st.folders {
				f := &st.folders[i]
				outs := 0
				for _, c := range f.coders {
					outs += c.numOut
				}
				f.unpackSizes = make([]int64, outs)
				for j := range f.unpackSizes {
					f.unpackSizes[j] = r.number()
				}
			}
			for r.err == nil {
				k := r.byte()
				if k == szEnd {
					break
				}
				if k != szCRC {
					r.err = fmt.Errorf("unknown unpack property %#x", k)
					break
				}
				for i, d := range r.digests(n) {
					st.folders[i].hasCRC = d
				}
			}
		case szSubStreamsInfo:
			st.numUnpack = make([]int, len(st.folders))
			for i := range st.numUnpack {
				st.numUnpack[i] = 1
			}
			k := r.byte()
			if k == szNumUnpackStream {
				total := 0
				for i := range st.numUnpack {
					st.numUnpack[i] = r.count()
					if total += st.numUnpack[i]; total > maxSzStreams {
						r.err = fmt.Errorf("more than %d members", maxSzStreams)
						return st
					}
				}
				k = r.byte()
			}
			sizesGiven := k == szSize
			for i, f := range st.folders {
				if st.numUnpack[i] == 0 {
					continue
				}
				var sum int64
				for j := 1; j < st.numUnpack[i]; j++ {
					var s int64
					if sizesGiven {
						s = r.number()
					}
					st.subSizes = append(st.subSizes, s)
					sum += s
				}
				st.subSizes = append(st.subSizes, f.unpackSize()-sum)
			}
			if sizesGiven {
				k = r.byte()
			}
			for r.err == nil && k != szEnd {
				if k != szCRC {
					r.err = fmt.Errorf("unknown sub-stream property %#x", k)
					break
				}
				n := 0
				for i, f := range st.folders {
					if st.numUnpack[i] != 1 || !f.hasCRC {
						n += st.numUnpack[i]
					}
				}
				r.digests(n)
				k = r.byte()
			}
		default:
			r.err = fmt.Errorf("unknown streams property %#x", id)
		}
	}
	return st
}

func (r *szReader) folder() szFolder {
	var f szFolder
	n := r.count()
	ins, outs := 0, 0
	for i := 0; i < n && r.err == nil; i++ {
		flags := r.byte()
		c := szCoder{id: hex.EncodeToString(r.bytes(int64(flags & 0x0f))), numIn: 1, numOut: 1}
		if flags&0x10 != 0 {
			c.numIn, c.numOut = r.count(), r.count()
		}
		if flags&0x20 != 0 {
			c.props = r.bytes(r.number())
		}
		if flags&0x80 != 0 {
			r.err = errors.New("alternative coder methods")
		}
		ins += c.numIn
		outs += c.numOut
		f.coders = append(f.coders, c)
	}
	for i := 0; i < outs-1 && r.err == nil; i++ {
		f.bindIn = append(f.bindIn, r.count())
		f.bindOut = append(f.bindOut, r.count())
	}
	np := ins - (outs - 1)
	if np < 1 {
		r.err = errors.New("a folder without a packed stream")
		return f
	}
	if np == 1 {
		for i := 0; i < ins; i++ {
			bound := false
			for _, b := range f.bindIn {
				bound = bound || b == i
			}
			if !bound {
				f.packed = append(f.packed, i)
				break
			}
		}
	} else {
		for i := 0; i < np && r.err == nil; i++ {
			f.packed = append(f.packed, r.count())
		}
	}
	return f
}

// unpackSize is the size of the folder's final output: its one out
// stream that no bind pair takes.
func (f *szFolder) unpackSize() int64 {
	for i, s := range f.unpackSizes {
		bound := false
		for _, b := range f.bindOut {
			bound = bound || b == i
		}
		if !bound {
			return s
		}
	}
	return 0
}

// sevenZip reads a 7z archive whole (its header is at its end; at most
// the buffer limit) and searches the content of every member as a stream
// of its own, named "a.7z!/path". Copy, LZMA, LZMA2, Deflate and BZip2
// are decoded, with the x86 branch filter (BCJ) 7-Zip puts before
// executables; another method, or encryption, makes the audit incomplete.
func (w *walker) sevenZip(cr *countReader, name string) error {
	buf, err := io.ReadAll(io.LimitReader(cr, w.lim.buffer+1))
	if err != nil {
		return err
	}
	if int64(len(buf)) > w.lim.buffer {
		return fmt.Errorf("%s: 7z %w", name, &limitError{what: "to be held whole in memory (its header is at its end)", limit: limitBuffer, value: w.lim.buffer})
	}
	fail := func(err error) error { return &decodeError{name: name, kind: "7z", err: err} }
	if len(buf) < 32 {
		return fail(errors.New("truncated"))
	}
	if crc32.ChecksumIEEE(buf[12:32]) != binary.LittleEndian.Uint32(buf[8:]) {
		return fail(errors.New("its start header is damaged"))
	}
	off := binary.LittleEndian.Uint64(buf[12:])
	size := binary.LittleEndian.Uint64(buf[20:])
	if size == 0 {
		return nil // an empty archive
	}
	if off > uint64(len(buf)) || size > uint64(len(buf)) || 32+off+size > uint64(len(buf)) {
		return fail(errors.New("its header is outside the file"))
	}
	hdr := buf[32+off : 32+off+size]
	if crc32.ChecksumIEEE(hdr) != binary.LittleEndian.Uint32(buf[28:]) {
		return fail(errors.New("its header is damaged"))
	}
	for round := 0; ; round++ {
		r := &szReader{b: hdr}
		switch r.byte() {
		case szHeader:
			return w.szHeader(r, buf, name)
		case szEncodedHeader:
			st := r.streamsInfo()
			if r.err != nil {
				return fail(r.err)
			}
			if len(st.folders) == 0 || round > 4 {
				return fail(errors.New("an encoded header without a folder"))
			}
			f := &st.folders[0]
			if f.unpackSize() > w.lim.buffer {
				return fmt.Errorf("%s: 7z header %w", name, &limitError{what: "of " + sizeString(f.unpackSize()), limit: limitBuffer, value: w.lim.buffer})
			}
			fr, err := w.szFolderReader(buf, st, 0)
			if err != nil {
				return fail(fmt.Errorf("header: %w", err))
			}
			if hdr, err = io.ReadAll(io.LimitReader(fr, f.unpackSize())); err != nil {
				return fail(fmt.Errorf("header: %w", err))
			}
		default:
			return fail(errors.New("not a 7z header"))
		}
	}
}

// szHeader reads the (decoded) header and walks every member.
func (w *walker) szHeader(r *szReader, buf []byte, name string) error {
	fail := func(err error) error { return &decodeError{name: name, kind: "7z", err: err} }
	st := &szStreams{}
	var names []string
	var empty []bool
	for r.err == nil {
		id := r.byte()
		if id == szEnd {
			break
		}
		switch id {
		case szArchiveProperties:
			for r.err == nil {
				if r.byte() == 0 {
					break
				}
				r.bytes(r.number())
			}
		case szAdditionalStreamsInfo:
			r.streamsInfo()
		case szMainStreamsInfo:
			st = r.streamsInfo()
		case szFilesInfo:
			n := r.count()
			names = make([]string, n)
			empty = make([]bool, n)
			for r.err == nil {
				k := r.byte()
				if k == szEnd {
					break
				}
				data := &szReader{b: r.bytes(r.number())}
				switch k {
				case szEmptyStream:
					empty = data.bits(n)
				case szName:
					if data.byte() != 0 {
						return fail(errors.New("external names"))
					}
					u := make([]uint16, 0, 64)
					i := 0
					for len(data.b) >= 2 && i < n {
						c := binary.LittleEndian.Uint16(data.b)
						data.b = data.b[2:]
						if c == 0 {
							names[i] = string(utf16.Decode(u))
							u = u[:0]
							i++
							continue
						}
						u = append(u, c)
					}
				}
				if data.err != nil {
					return fail(data.err)
				}
			}
		default:
			return fail(fmt.Errorf("unknown header property %#x", id))
		}
	}
	if r.err != nil {
		return fail(r.err)
	}
	if st.numUnpack == nil {
		st.numUnpack = make([]int, len(st.folders))
		for i := range st.folders {
			st.numUnpack[i] = 1
			st.subSizes = append(st.subSizes, st.folders[i].unpackSize())
		}
	}
	var withData []string
	for i, n := range names {
		if !empty[i] {
			withData = append(withData, n)
		}
	}
	if len(withData) != len(st.subSizes) {
		return fail(fmt.Errorf("%d members with data for %d streams", len(withData), len(st.subSizes)))
	}
	k := 0
	for fi := range st.folders {
		fr, err := w.szFolderReader(buf, st, fi)
		if err != nil {
			var le *limitError
			if errors.As(err, &le) {
				return fmt.Errorf("%s: 7z %w", name, err)
			}
			return fail(err)
		}
		for j := 0; j < st.numUnpack[fi]; j++ {
			full := name + "!/" + cleanPath(withData[k])
			size := st.subSizes[k]
			k++
			if size < 0 {
				return fail(errors.New("a member size out of range"))
			}
			lr := &io.LimitedReader{R: fr, N: size}
			err := w.decoded(lr, full, func(ds *stream) error { return w.file(ds, ds, 0, full) })
			if err == nil && lr.N > 0 {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				if w.ctx.Err() != nil {
					return w.ctx.Err()
				}
				var le *limitError
				if errors.As(err, &le) {
					return fmt.Errorf("%s: 7z %w", full, err)
				}
				return &decodeError{name: full, kind: "7z", err: err}
			}
		}
	}
	return nil
}

// szFolderReader returns the decoded output of folder fi: its coders
// chained, each in stream fed by a pack stream or another coder's out
// stream. Coders with one in and one out stream are supported.
func (w *walker) szFolderReader(buf []byte, st *szStreams, fi int) (io.Reader, error) {
	f := &st.folders[fi]
	outs := 0
	for _, c := range f.coders {
		if c.numIn != 1 || c.numOut != 1 {
			return nil, fmt.Errorf("coder %s with %d in and %d out streams, which the audit does not decode", c.id, c.numIn, c.numOut)
		}
		outs++
	}
	main := -1
	for i := 0; i < outs; i++ {
		bound := false
		for _, b := range f.bindOut {
			bound = bound || b == i
		}
		if !bound {
			main = i
		}
	}
	if main < 0 || len(f.unpackSizes) != outs {
		return nil, errors.New("a folder without an output")
	}
	// Coder i has in stream i and out stream i.
	var open func(coder, depth int) (io.Reader, error)
	open = func(coder, depth int) (io.Reader, error) {
		if depth > len(f.coders) {
			return nil, errors.New("coders bound in a loop")
		}
		var in io.Reader
		for bi, b := range f.bindIn {
			if b == coder {
				r, err := open(f.bindOut[bi], depth+1)
				if err != nil {
					return nil, err
				}
				in = r
			}
		}
		if in == nil {
			pi := -1
			for j, p := range f.packed {
				if p == coder {
					pi = f.firstPack + j
				}
			}
			if pi < 0 || pi >= len(st.packSizes) {
				return nil, errors.New("a coder without input")
			}
			start := 32 + st.packPos
			for j := 0; j < pi; j++ {
				start += st.packSizes[j]
			}
			end := start + st.packSizes[pi]
			if start < 32 || end > int64(len(buf)) || end < start {
				return nil, errors.New("a packed stream outside the file")
			}
			in = bytes.NewReader(buf[start:end])
		}
		r, err := w.szCoder(f.coders[coder], in, f.unpackSizes[coder])
		if err != nil {
			return nil, err
		}
		return io.LimitReader(r, f.unpackSizes[coder]), nil
	}
	return open(main, 0)
}

// szCoder opens one coder of a folder; size is what it outputs.
func (w *walker) szCoder(c szCoder, in io.Reader, size int64) (io.Reader, error) {
	switch c.id {
	case "00":
		return in, nil
	case "21":
		if len(c.props) != 1 {
			return nil, errors.New("malformed LZMA2 properties")
		}
		d := decode.Lzma2Dict(c.props[0])
		if d > w.lim.window {
			return nil, windowError(d, w.lim.window)
		}
		return lzma.Reader2Config{DictCap: int(max(min(d, size, lzma.MaxDictCap), lzma.MinDictCap))}.NewReader2(in)
	case "030101":
		if len(c.props) != 5 {
			return nil, errors.New("malformed LZMA properties")
		}
		if d := int64(binary.LittleEndian.Uint32(c.props[1:])); d > w.lim.window {
			return nil, windowError(d, w.lim.window)
		}
		hdr := make([]byte, 13)
		copy(hdr, c.props)
		binary.LittleEndian.PutUint64(hdr[5:], uint64(size))
		return lzma.ReaderConfig{DictCap: int(min(w.lim.window, lzma.MaxDictCap))}.NewReader(io.MultiReader(bytes.NewReader(hdr), in))
	case "040108":
		return flate.NewReader(in), nil
	case "040202":
		return bzip2.NewReader(in), nil
	case "03030103":
		return decode.NewBCJReader(in), nil
	case "06f10701":
		return nil, errors.New("encrypted (AES): its content cannot be decoded without the password")
	}
	return nil, fmt.Errorf("the coder %s, which the audit does not decode", c.id)
}
