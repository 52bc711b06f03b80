package audit

import (
	"bytes"
	"encoding/binary"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Formats the walker opens, told apart by content (and, for the two that
// have no magic number, by name).
const (
	fmtNone = iota
	fmtGzip
	fmtZstd
	fmtBzip2
	fmtXz
	fmtTar
	fmtZip
	fmtLzma   // LZMA-alone, as xz --format=lzma and the LZMA SDK write it
	fmtZ      // Unix compress (LZW), .Z
	fmtBrotli // no magic number: by the name .br
	fmtZlib   // a git loose object
	fmt7z
	fmtAr       // ar archives: .deb, static libraries
	fmtRpm      // an rpm package: lead, headers, compressed cpio
	fmtCpio     // newc, crc and odc cpio
	fmtPack     // a git packfile
	fmtLZ4      // LZ4 frames, and the legacy format of initramfs
	fmtZlibData // a zlib stream that is not a git object (zlib.compress, Node's deflate)
)

var formatNames = [...]string{fmtNone: "", fmtGzip: "gzip", fmtZstd: "zstd", fmtBzip2: "bzip2", fmtXz: "xz", fmtTar: "tar", fmtZip: "zip",
	fmtLzma: "lzma", fmtZ: "compress (.Z)", fmtBrotli: "brotli", fmtZlib: "git object (zlib)", fmt7z: "7z", fmtAr: "ar", fmtRpm: "rpm",
	fmtCpio: "cpio", fmtPack: "git pack", fmtLZ4: "lz4", fmtZlibData: "zlib"}

// compressed reports whether f is a compressed stream: its content is
// searched decoded, as a stream of its own.
func compressed(f int) bool {
	switch f {
	case fmtGzip, fmtZstd, fmtBzip2, fmtXz, fmtLzma, fmtZ, fmtBrotli, fmtZlib, fmtLZ4, fmtZlibData:
		return true
	}
	return false
}

// sniff tells a format from the first bytes of a stream (up to 512).
// Each format is confirmed by more than its magic number where its header
// allows (a tar header's checksum, gzip's reserved flags, a cpio header's
// digits), so that text or random bytes rarely pass for an archive.
func sniff(b []byte) (int, string) {
	f := sniffFormat(b)
	return f, formatNames[f]
}

func sniffFormat(b []byte) int {
	if len(b) < 2 {
		return fmtNone
	}
	switch {
	case len(b) >= 10 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 && b[3]&0xe0 == 0:
		return fmtGzip
	case len(b) >= 3 && b[0] == 0x1f && b[1] == 0x9d && b[2]&0x60 == 0 && b[2]&0x1f >= 9 && b[2]&0x1f <= 16:
		return fmtZ
	case len(b) >= 4 && string(b[:4]) == "\x28\xb5\x2f\xfd":
		return fmtZstd
	case len(b) >= 7 && string(b[:4]) == "\x04\x22\x4d\x18" && b[4]>>6 == 1 && b[4]&2 == 0 && b[5]&0x8f == 0 && b[5]>>4 >= 4:
		return fmtLZ4
	case len(b) >= 8 && string(b[:4]) == "\x02\x21\x4c\x18":
		return fmtLZ4
	case len(b) >= 4 && string(b[:4]) == "PK\x03\x04":
		return fmtZip
	case len(b) >= 10 && string(b[:3]) == "BZh" && b[3] >= '1' && b[3] <= '9' && (string(b[4:10]) == "1AY&SY" || string(b[4:10]) == "\x17\x72\x45\x38\x50\x90"):
		return fmtBzip2
	case len(b) >= 6 && string(b[:6]) == "\xfd7zXZ\x00":
		return fmtXz
	case len(b) >= 6 && string(b[:6]) == "7z\xbc\xaf\x27\x1c":
		return fmt7z
	case len(b) >= 8 && string(b[:8]) == "!<arch>\n":
		return fmtAr
	case len(b) >= 96 && string(b[:4]) == "\xed\xab\xee\xdb" && (b[4] == 3 || b[4] == 4):
		return fmtRpm
	case len(b) >= 12 && string(b[:4]) == "PACK" && (b[7] == 2 || b[7] == 3) && string(b[4:7]) == "\x00\x00\x00":
		return fmtPack
	case cpioHeader(b) > 0:
		return fmtCpio
	case tarHeader(b):
		return fmtTar
	case lzmaHeader(b, false):
		return fmtLzma
	case gitLooseHead(b):
		return fmtZlib
	case zlibData(b):
		return fmtZlibData
	}
	return fmtNone
}

// sniffFile is sniff with the file's name: brotli has no magic number
// and is recognised by the name .br alone; a file named .lzma is LZMA
// even when its size field is set; a file where git keeps a loose object
// is one.
func sniffFile(name string, b []byte) (int, string) {
	if f := sniffFormat(b); f != fmtNone {
		return f, formatNames[f]
	}
	base := path.Base(name)
	switch {
	case strings.HasSuffix(base, ".br") && len(base) > 3:
		return fmtBrotli, formatNames[fmtBrotli]
	case (strings.HasSuffix(base, ".lzma") || strings.HasSuffix(base, ".tlz")) && lzmaHeader(b, true):
		return fmtLzma, formatNames[fmtLzma]
	case looseObjectPath(name) && len(b) >= 2 && zlibHeader(b):
		return fmtZlib, formatNames[fmtZlib]
	}
	return fmtNone, ""
}

// tarHeader reports whether b starts with a ustar or GNU tar header whose
// checksum is right.
func tarHeader(b []byte) bool {
	if len(b) < 512 || (string(b[257:262]) != "ustar") {
		return false
	}
	want, ok := tarNumber(b[148:156])
	if !ok {
		return false
	}
	var sum, ssum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
		ssum += int64(int8(c))
	}
	return want == sum || want == ssum
}

// cpioHeader returns the size of the cpio header b starts with (newc,
// crc or odc: what rpm, the kernel's initramfs and cpio -H write), or 0.
func cpioHeader(b []byte) int {
	switch {
	case len(b) >= 110 && (string(b[:6]) == "070701" || string(b[:6]) == "070702"):
		for _, c := range b[6:110] {
			if !isHex(c) {
				return 0
			}
		}
		return 110
	case len(b) >= 76 && string(b[:6]) == "070707":
		for _, c := range b[6:76] {
			if c < '0' || c > '7' {
				return 0
			}
		}
		return 76
	}
	return 0
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// lzmaHeader reports whether b starts like an LZMA-alone stream: valid
// properties and a dictionary size that LZMA encoders write (2^n or
// 2^n + 2^(n-1)). Without the name to go by, the size field must say
// "unknown" (all ones), as xz --format=lzma writes it.
func lzmaHeader(b []byte, named bool) bool {
	if len(b) < 13 || b[0] >= 9*5*5 {
		return false
	}
	d := binary.LittleEndian.Uint32(b[1:])
	if d < 1<<12 {
		return false
	}
	if d&(d-1) != 0 && d != 1<<32-1 { // xz takes an all-ones size too
		h := uint32(1) << (31 - leadingZeros32(d))
		if d != h|h>>1 {
			return false
		}
	}
	size := binary.LittleEndian.Uint64(b[5:])
	if named {
		return size == 1<<64-1 || size < 1<<48
	}
	return size == 1<<64-1 && b[0] == 0x5d
}

func leadingZeros32(x uint32) int {
	n := 0
	for x&0x80000000 == 0 {
		x <<= 1
		n++
	}
	return n
}

// zlibHeader reports whether b starts with a zlib header (deflate, no
// preset dictionary).
func zlibHeader(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 && b[1]&0x20 == 0
}

// looseObjectPath reports whether name is where git keeps a loose object:
// objects/ab/ then 38 (SHA-1) or 62 (SHA-256) hex digits.
func looseObjectPath(name string) bool {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	fan := path.Base(dir)
	if len(fan) != 2 || path.Base(path.Dir(dir)) != "objects" || (len(base) != 38 && len(base) != 62) {
		return false
	}
	for _, c := range []byte(fan + base) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// gitLooseHead reports whether b is a zlib stream whose first bytes
// inflate to a git object header ("blob 12\x00").
func gitLooseHead(b []byte) bool {
	if len(b) < 2 || b[0] != 0x78 || !zlibHeader(b) { // git deflates with a 32 KiB window
		return false
	}
	head := inflatePrefix(b, 32)
	_, _, ok := gitObjectHeader(head)
	return ok
}

// zlibData reports whether b starts a zlib stream: a header as zlib
// writes it at its usual levels (78 01, 5e, 9c or da), and first bytes
// that inflate. Two bytes alone would be chance in binary data.
func zlibData(b []byte) bool {
	if len(b) < 8 || b[0] != 0x78 || (b[1] != 0x01 && b[1] != 0x5e && b[1] != 0x9c && b[1] != 0xda) {
		return false
	}
	out, ok := inflateCheck(b)
	return ok && len(out) > 0
}

// gitObjectHeader parses "type size\x00" at the start of a loose object;
// n is the header's length.
func gitObjectHeader(b []byte) (typ string, n int, ok bool) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return "", 0, false
	}
	switch string(b[:sp]) {
	case "blob", "tree", "commit", "tag":
	default:
		return "", 0, false
	}
	nul := bytes.IndexByte(b[sp:], 0)
	if nul < 2 || nul > 21 {
		return "", 0, false
	}
	if _, err := strconv.ParseUint(string(b[sp+1:sp+nul]), 10, 63); err != nil {
		return "", 0, false
	}
	return string(b[:sp]), sp + nul + 1, true
}

// signatures are the magic numbers of everything the walker decodes, for
// findSignature: what it finds in bytes that were not parsed could have
// been decoded further.
var signatures = []struct {
	magic string
	f     int
}{
	{"\x1f\x8b\x08", fmtGzip}, {"\x1f\x9d", fmtZ}, {"\x28\xb5\x2f\xfd", fmtZstd}, {"PK\x03\x04", fmtZip},
	{"BZh", fmtBzip2}, {"\xfd7zXZ\x00", fmtXz}, {"7z\xbc\xaf\x27\x1c", fmt7z}, {"!<arch>\n", fmtAr},
	{"\xed\xab\xee\xdb", fmtRpm}, {"PACK\x00\x00\x00", fmtPack}, {"0707", fmtCpio}, {"ustar", fmtTar},
	{"\x5d\x00\x00", fmtLzma}, {"\x04\x22\x4d\x18", fmtLZ4}, {"\x02\x21\x4c\x18", fmtLZ4},
}

// sigPairs marks the first two bytes of the signatures ("us" of a tar's
// "ustar"), so that most bytes cost one table lookup. It is made on first
// use: at init, its 64 KiB would cost every sealenv command a stack copy.
var sigPairs = sync.OnceValue(func() *[1 << 16]bool {
	t := new([1 << 16]bool)
	for _, s := range signatures {
		t[uint16(s.magic[0])<<8|uint16(s.magic[1])] = true
	}
	return t
})

// findSignature returns the offset in b, below limit, of the first place
// where a format the walker decodes starts and is confirmed by its header
// (b holds up to 512 bytes after it to confirm), or -1. A tar is found by
// its "ustar" at offset 257 of a header.
func findSignature(b []byte, limit int) (int, int) {
	sigPair := sigPairs()
	for i := 0; i+1 < len(b) && i-257 < limit; i++ {
		// Runs of zero bytes (sparse maps, padding) are skipped eight at
		// a time: no signature starts with one.
		for i+9 < len(b) && binary.LittleEndian.Uint64(b[i:]) == 0 {
			i += 8
		}
		if !sigPair[uint16(b[i])<<8|uint16(b[i+1])] {
			continue
		}
		if b[i] == 'u' {
			if i >= 257 && i-257 < limit && tarHeader(b[i-257:]) {
				return i - 257, fmtTar
			}
			continue
		}
		if i >= limit {
			continue
		}
		if f := sniffFormat(b[i:]); f != fmtNone && f != fmtTar {
			return i, f
		}
	}
	return -1, fmtNone
}
