package decode

import "encoding/binary"

// ZstdWindow returns the window a zstd frame header asks for, or 0 when b
// does not hold one.
func ZstdWindow(b []byte) int64 {
	if len(b) < 6 || string(b[:4]) != "\x28\xb5\x2f\xfd" {
		return 0
	}
	fhd := b[4]
	if fhd&0x20 == 0 {
		// Window_Descriptor: exponent and mantissa.
		wd := b[5]
		base := int64(1) << (10 + wd>>3)
		return base + base/8*int64(wd&7)
	}
	// Single segment: the window is the frame's content size.
	pos := 5
	pos += []int{0, 1, 2, 4}[fhd&3]
	switch fhd >> 6 {
	case 0:
		if pos+1 <= len(b) {
			return int64(b[pos])
		}
	case 1:
		if pos+2 <= len(b) {
			return int64(binary.LittleEndian.Uint16(b[pos:])) + 256
		}
	case 2:
		if pos+4 <= len(b) {
			return int64(binary.LittleEndian.Uint32(b[pos:]))
		}
	case 3:
		if pos+8 <= len(b) {
			return int64(binary.LittleEndian.Uint64(b[pos:]) & (1<<62 - 1))
		}
	}
	return 0
}

// BrotliWindow decodes the WBITS field at the start of a brotli stream
// (RFC 7932 9.1, and the large-window extension of RFC 9841): the window
// the decoder allocates.
func BrotliWindow(b []byte) (int64, bool, bool) {
	if len(b) == 0 {
		return 0, false, false
	}
	x := uint32(b[0])
	if len(b) > 1 {
		x |= uint32(b[1]) << 8
	}
	if x&1 == 0 {
		return 1<<16 - 16, false, true
	}
	if n := (x >> 1) & 7; n != 0 {
		return 1<<(17+n) - 16, false, true
	}
	switch m := (x >> 4) & 7; {
	case m == 1:
		// Large window: six more bits give WBITS (10 to 30).
		if len(b) < 2 {
			return 0, false, false
		}
		wbits := (x >> 8) & 63
		if wbits < 10 || wbits > 30 {
			return 0, false, false
		}
		return 1<<wbits - 16, true, true
	case m != 0:
		return 1<<(8+m) - 16, false, true
	}
	return 1<<17 - 16, false, true
}

// Lzma2Dict decodes the one-byte LZMA2 dictionary size property.
func Lzma2Dict(p byte) int64 {
	code := p & 0x3f
	if code > 40 {
		return 1 << 40
	}
	if code == 40 {
		return 1<<32 - 1
	}
	return int64(2|code&1) << (code/2 + 11)
}
