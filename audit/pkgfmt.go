package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ar walks an ar archive (a .deb: debian-binary, control.tar.*,
// data.tar.*; a static library): 60-byte member headers, each member's
// data padded to an even offset. GNU long names ("//" table, "/N") and
// BSD ones ("#1/N", the name before the data) are read.
func (w *walker) ar(cr *countReader, s *stream, base int64, prefix string) error {
	fail := func(format string, a ...any) error {
		return structural(fmt.Errorf("%sar: %s", where(prefix), fmt.Sprintf(format, a...)))
	}
	if _, err := io.CopyN(io.Discard, cr, 8); err != nil {
		return fail("truncated")
	}
	var longNames []byte
	var hdr [60]byte
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		start := cr.n
		k, err := io.ReadFull(cr, hdr[:])
		if k == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail("truncated header")
		}
		if string(hdr[58:60]) != "`\n" {
			return fail("a member header without its end marker at offset %d", start)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return fail("a member size that is not a number at offset %d", start)
		}
		raw := strings.TrimRight(string(hdr[:16]), " ")
		name := strings.TrimSuffix(raw, "/")
		dataStart := cr.n
		nameEnd := start + 16
		switch {
		case raw == "/" || raw == "/SYM64/" || raw == "__.SYMDEF" || raw == "__.SYMDEF SORTED":
			name = "" // the symbol table
		case raw == "//":
			// GNU long names, read whole (they are names, not data).
			if size > 16<<20 {
				return fail("a long-name table of %d bytes", size)
			}
			longNames = make([]byte, size)
			if _, err := io.ReadFull(cr, longNames); err != nil {
				return fail("truncated long-name table")
			}
			s.att.close(span{start: base + dataStart, end: base + cr.n, path: strings.TrimSuffix(prefix, "!/"), part: partName})
			name = ""
		case len(raw) > 1 && raw[0] == '/' && raw[1] >= '0' && raw[1] <= '9':
			off, err := strconv.Atoi(raw[1:])
			if err != nil || off >= len(longNames) {
				return fail("a long name outside the name table at offset %d", start)
			}
			n := longNames[off:]
			if i := bytes.IndexByte(n, '\n'); i >= 0 {
				n = n[:i]
			}
			name = strings.TrimSuffix(string(n), "/")
		case strings.HasPrefix(raw, "#1/"):
			n, err := strconv.Atoi(raw[3:])
			if err != nil || n < 0 || int64(n) > size || n > 4096 {
				return fail("a BSD long name that does not fit at offset %d", start)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(cr, b); err != nil {
				return fail("truncated name")
			}
			name = strings.TrimRight(string(b), "\x00")
			nameEnd = cr.n
			dataStart = cr.n
			size -= int64(n)
		}
		full := prefix + cleanPath(name)
		if name == "" {
			full = strings.TrimSuffix(prefix, "!/")
		}
		s.att.close(span{start: base + start, end: base + start + 16, path: full, part: partName})
		if nameEnd > start+16 {
			s.att.close(span{start: base + start + 60, end: base + nameEnd, path: full, part: partName})
		}
		s.att.close(span{start: base + start, end: base + start + 60, path: full, part: partHeader})
		if cr.n == dataStart && size > 0 && name != "" {
			body := io.LimitReader(cr, size)
			if err := w.file(body, s, base+dataStart, full); err != nil {
				return err
			}
			if _, err := io.CopyBuffer(io.Discard, body, w.discard); err != nil {
				return err
			}
		} else if rest := dataStart + size - cr.n; rest > 0 {
			if _, err := io.CopyN(io.Discard, cr, rest); err != nil {
				return fail("truncated member")
			}
		}
		if cr.n != dataStart+size {
			return fail("%s: truncated", name)
		}
		s.att.close(span{start: base + dataStart, end: base + cr.n, path: full, part: partData})
		if (cr.n-8)%2 == 1 {
			// Members start at even offsets: GNU ar pads with a newline,
			// Go's pack with a zero byte.
			if k, _ := cr.r.Discard(1); k == 1 {
				cr.n++
				s.att.close(span{start: base + cr.n - 1, end: base + cr.n, path: full, part: partPadding})
			}
		}
	}
}

// cpio walks a cpio archive (newc and crc, as rpm payloads and the
// kernel's initramfs carry them, and odc) to its TRAILER!!! entry. After
// it, an initramfs may hold more: padding zeros, then another archive or
// a compressed one, which are walked too.
func (w *walker) cpio(cr *countReader, s *stream, base int64, prefix string) error {
	fail := func(format string, a ...any) error {
		return structural(fmt.Errorf("%scpio: %s", where(prefix), fmt.Sprintf(format, a...)))
	}
	hex := func(b []byte) (int64, bool) {
		n, err := strconv.ParseUint(string(b), 16, 32)
		return int64(n), err == nil
	}
	oct := func(b []byte) (int64, bool) {
		n, err := strconv.ParseUint(string(b), 8, 40)
		return int64(n), err == nil
	}
	hdr := make([]byte, 110)
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		head, _ := cr.r.Peek(110)
		hl := cpioHeader(head)
		if hl == 0 {
			if len(head) == 0 {
				return fail("no TRAILER!!! entry")
			}
			return fail("a header that does not parse at offset %d", cr.n)
		}
		start := cr.n
		if _, err := io.ReadFull(cr, hdr[:hl]); err != nil {
			return fail("truncated header")
		}
		var nameSize, size int64
		var ok1, ok2 bool
		align := int64(1)
		if hl == 110 {
			nameSize, ok1 = hex(hdr[94:102])
			size, ok2 = hex(hdr[54:62])
			align = 4
		} else {
			nameSize, ok1 = oct(hdr[59:65])
			size, ok2 = oct(hdr[65:76])
		}
		if !ok1 || !ok2 || nameSize < 1 || nameSize > 64<<10 {
			return fail("a header with sizes that do not parse at offset %d", start)
		}
		nameBuf := make([]byte, nameSize)
		if _, err := io.ReadFull(cr, nameBuf); err != nil {
			return fail("truncated name")
		}
		name := string(bytes.TrimRight(nameBuf, "\x00"))
		full := prefix + cleanPath(name)
		if err := skipPad(cr, align); err != nil {
			return fail("truncated")
		}
		s.att.close(span{start: base + start + int64(hl), end: base + start + int64(hl) + nameSize, path: full, part: partName})
		s.att.close(span{start: base + start, end: base + cr.n, path: full, part: partHeader})
		if name == "TRAILER!!!" {
			return w.afterCpio(cr, s, base, prefix)
		}
		dataStart := cr.n
		if size > 0 {
			body := io.LimitReader(cr, size)
			if err := w.file(body, s, base+dataStart, full); err != nil {
				return err
			}
			if _, err := io.CopyBuffer(io.Discard, body, w.discard); err != nil {
				return err
			}
			if cr.n != dataStart+size {
				return fail("%s: truncated", name)
			}
		}
		s.att.close(span{start: base + dataStart, end: base + cr.n, path: full, part: partData})
		p0 := cr.n
		if err := skipPad(cr, align); err != nil {
			return fail("truncated")
		}
		s.att.close(span{start: base + p0, end: base + cr.n, path: full, part: partPadding})
	}
}

// afterCpio reads what follows a cpio trailer: zeros that pad it, and in
// an initramfs another archive, compressed or not.
func (w *walker) afterCpio(cr *countReader, s *stream, base int64, prefix string) error {
	for {
		b, _ := cr.r.Peek(512)
		if len(b) == 0 {
			return nil
		}
		z := 0
		for z < len(b) && b[z] == 0 {
			z++
		}
		if z > 0 {
			cr.r.Discard(z)
			cr.n += int64(z)
			continue
		}
		f := sniffFormat(b)
		switch {
		case f == fmtCpio:
			return w.cpio(cr, s, base, prefix)
		case compressed(f):
			return w.decompress(cr, strings.TrimSuffix(prefix, "!/"), f, formatNames[f])
		}
		return nil // anything else is the file's trailer
	}
}

func skipPad(cr *countReader, align int64) error {
	if pad := (align - cr.n%align) % align; pad > 0 {
		if _, err := io.CopyN(io.Discard, cr, pad); err != nil {
			return err
		}
	}
	return nil
}

// rpm walks an rpm package: the 96-byte lead, the signature header
// (padded to 8 bytes), the header, then the payload, a cpio archive
// compressed with gzip, xz, zstd, bzip2 or lzma, which is decoded. The
// headers' strings (file names, scriptlets, the changelog) are searched
// as stored.
func (w *walker) rpm(cr *countReader, s *stream, base int64, name string) error {
	fail := func(format string, a ...any) error {
		return structural(fmt.Errorf("%s: rpm: %s", name, fmt.Sprintf(format, a...)))
	}
	if _, err := io.CopyN(io.Discard, cr, 96); err != nil {
		return fail("truncated lead")
	}
	s.att.close(span{start: base, end: base + 96, path: name, part: partHeader})
	for i := 0; i < 2; i++ {
		start := cr.n
		h, _ := cr.r.Peek(16)
		if len(h) < 16 || string(h[:3]) != "\x8e\xad\xe8" {
			return fail("no header at offset %d", start)
		}
		nindex := int64(binary.BigEndian.Uint32(h[8:]))
		hsize := int64(binary.BigEndian.Uint32(h[12:]))
		if nindex > 1<<20 || hsize > 1<<30 {
			return fail("a header of %d entries and %d bytes", nindex, hsize)
		}
		n := 16 + nindex*16 + hsize
		if i == 0 {
			n += (8 - n%8) % 8 // the signature header is padded to 8 bytes
		}
		if _, err := io.CopyN(io.Discard, cr, n); err != nil {
			return fail("truncated header")
		}
		s.att.close(span{start: base + start, end: base + cr.n, path: name, part: partHeader})
	}
	head, _ := cr.r.Peek(512)
	f := sniffFormat(head)
	switch {
	case compressed(f):
		return w.decompress(cr, name, f, formatNames[f])
	case f == fmtCpio:
		// An uncompressed payload: its offsets (and newc's alignment)
		// count from its own start.
		pc := &countReader{r: cr.r}
		err := w.cpio(pc, s, base+cr.n, name+"!/")
		cr.n += pc.n
		return err
	case len(head) == 0:
		return nil
	}
	return &decodeError{name: name, kind: "rpm payload", err: errors.New("a payload in a format the audit does not decode")}
}
