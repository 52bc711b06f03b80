package audit

import (
	"bytes"
	"strconv"
	"strings"
)

// tarRegion is what the raw header blocks of one tar entry say, read from
// the bytes archive/tar consumed for it: where each part of the header is,
// and how many bytes of data follow on the stream (the physical size, which
// for a sparse file is not the size archive/tar reports).
type tarRegion struct {
	parts   []span // name, linkname, pax and xattr ranges, in stream order
	mainEnd int64  // just past the last header block (before a PAX 1.0 sparse map)
	phys    int64  // bytes of data after mainEnd, before padding
	sparse  bool
	ok      bool
}

// parseTarRegion reads the header blocks in b, which start at stream offset
// off. It fails (ok false) on anything it does not understand; the caller
// then gives the whole region to the header part.
func parseTarRegion(b []byte, off int64, path string) tarRegion {
	var r tarRegion
	paxSize := int64(-1)
	add := func(lo, hi int, part string) {
		if hi > lo {
			r.parts = append(r.parts, span{start: off + int64(lo), end: off + int64(hi), path: path, part: part})
		}
	}
	for i := 0; i+512 <= len(b); {
		blk := b[i : i+512]
		flag := blk[156]
		size, ok := tarNumber(blk[124:136])
		if !ok || size < 0 {
			return tarRegion{}
		}
		magic := string(blk[257:265])
		add(i, i+100, partName)
		add(i+157, i+257, partLinkname)
		if magic == "ustar\x0000" {
			add(i+345, i+500, partName) // the ustar prefix
		}
		dataLen := int((size + 511) &^ 511)
		switch flag {
		case 'x', 'g', 'X':
			if i+512+int(size) > len(b) {
				return tarRegion{}
			}
			for _, rec := range paxRecords(b[i+512:i+512+int(size)], i+512) {
				part := partPAX
				switch {
				case rec.key == "path" || rec.key == "GNU.sparse.name":
					part = partName
				case rec.key == "linkpath":
					part = partLinkname
				case strings.HasPrefix(rec.key, "SCHILY.xattr.") || strings.HasPrefix(rec.key, "LIBARCHIVE.xattr."):
					part = partXattr
				case rec.key == "size" && flag != 'g':
					if n, err := strconv.ParseInt(rec.value, 10, 64); err == nil {
						paxSize = n
					}
				}
				if strings.HasPrefix(rec.key, "GNU.sparse.") {
					r.sparse = true
				}
				add(rec.lo, rec.hi, part)
			}
			i += 512 + dataLen
			if flag == 'g' && i >= len(b) {
				// A global header is returned as an entry of its own.
				r.mainEnd, r.ok = off+int64(i), true
				return r
			}
			continue
		case 'L', 'K':
			part := partName
			if flag == 'K' {
				part = partLinkname
			}
			add(i+512, min(i+512+int(size), len(b)), part)
			i += 512 + dataLen
			continue
		}
		// The entry's own header.
		i += 512
		if flag == 'S' {
			r.sparse = true
			for ext := blk[482] != 0; ext; {
				if i+512 > len(b) {
					return tarRegion{}
				}
				ext = b[i+504] != 0
				i += 512
			}
		}
		r.phys = size
		if paxSize >= 0 {
			r.phys = paxSize
		}
		switch flag {
		case '1', '2', '3', '4', '5', '6':
			r.phys = 0 // archive/tar, like tar(1), reads no data for these
		}
		r.mainEnd, r.ok = off+int64(i), true
		return r
	}
	return tarRegion{}
}

// tarNumber parses a numeric header field: octal, or base-256 when its top
// bit is set.
func tarNumber(b []byte) (int64, bool) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		var x uint64
		for i, c := range b {
			if i == 0 {
				c &= 0x7f
				if b[0]&0x40 != 0 {
					return 0, false // negative
				}
			}
			if x>>56 != 0 {
				return 0, false
			}
			x = x<<8 | uint64(c)
		}
		if x > 1<<62 {
			return 0, false
		}
		return int64(x), true
	}
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 8, 64)
	return n, err == nil
}

type paxRecord struct {
	key, value string
	lo, hi     int // the record's bytes, relative to the region
}

// paxRecords splits PAX extended header data ("len key=value\n" records);
// a record that does not parse ends the list (archive/tar refuses it too).
func paxRecords(b []byte, at int) []paxRecord {
	var out []paxRecord
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			break
		}
		n, err := strconv.Atoi(string(b[:sp]))
		if err != nil || n <= sp || n > len(b) {
			break
		}
		rec := b[sp+1 : n]
		k, v, _ := bytes.Cut(bytes.TrimSuffix(rec, []byte("\n")), []byte("="))
		out = append(out, paxRecord{key: string(k), value: string(v), lo: at, hi: at + n})
		b = b[n:]
		at += n
	}
	return out
}
