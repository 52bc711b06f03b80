package decode

import "encoding/binary"

// ExeEnd returns where an ELF or PE executable ends by its own headers
// (what follows is appended data: the archive of a self-extracting
// executable), read from its first bytes h; 0 when it cannot tell.
func ExeEnd(h []byte) int64 {
	switch {
	case len(h) >= 64 && string(h[:4]) == "\x7fELF":
		return elfEnd(h)
	case len(h) >= 64 && string(h[:2]) == "MZ":
		return peEnd(h)
	}
	return 0
}

// elfEnd is the end of the section header table or of the last segment,
// whichever is later.
func elfEnd(h []byte) int64 {
	var bo binary.ByteOrder
	switch h[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return 0
	}
	var phoff, shoff uint64
	var phentsize, phnum, shentsize, shnum uint64
	is64 := h[4] == 2
	switch h[4] {
	case 1:
		phoff, shoff = uint64(bo.Uint32(h[0x1c:])), uint64(bo.Uint32(h[0x20:]))
		phentsize, phnum = uint64(bo.Uint16(h[0x2a:])), uint64(bo.Uint16(h[0x2c:]))
		shentsize, shnum = uint64(bo.Uint16(h[0x2e:])), uint64(bo.Uint16(h[0x30:]))
	case 2:
		phoff, shoff = bo.Uint64(h[0x20:]), bo.Uint64(h[0x28:])
		phentsize, phnum = uint64(bo.Uint16(h[0x36:])), uint64(bo.Uint16(h[0x38:]))
		shentsize, shnum = uint64(bo.Uint16(h[0x3a:])), uint64(bo.Uint16(h[0x3c:]))
	default:
		return 0
	}
	end := shoff + shentsize*shnum
	if shoff == 0 {
		end = 0
	}
	minEnt := uint64(32)
	if is64 {
		minEnt = 56
	}
	for i := uint64(0); i < phnum && phentsize >= minEnt; i++ {
		o := phoff + i*phentsize
		if o+phentsize > uint64(len(h)) {
			break
		}
		var off, size uint64
		if is64 {
			off, size = bo.Uint64(h[o+8:]), bo.Uint64(h[o+0x20:])
		} else {
			off, size = uint64(bo.Uint32(h[o+4:])), uint64(bo.Uint32(h[o+0x10:]))
		}
		end = max(end, off+size)
	}
	if end > 1<<50 {
		return 0
	}
	return int64(end)
}

// peEnd is the end of the last section's raw data.
func peEnd(h []byte) int64 {
	lfanew := uint64(binary.LittleEndian.Uint32(h[0x3c:]))
	if lfanew+24 > uint64(len(h)) || string(h[lfanew:lfanew+4]) != "PE\x00\x00" {
		return 0
	}
	nsec := uint64(binary.LittleEndian.Uint16(h[lfanew+6:]))
	optSize := uint64(binary.LittleEndian.Uint16(h[lfanew+20:]))
	sec := lfanew + 24 + optSize
	var end uint64
	for i := uint64(0); i < nsec; i++ {
		o := sec + i*40
		if o+40 > uint64(len(h)) {
			return 0
		}
		size, ptr := uint64(binary.LittleEndian.Uint32(h[o+16:])), uint64(binary.LittleEndian.Uint32(h[o+20:]))
		if size > 0 {
			end = max(end, ptr+size)
		}
	}
	return int64(end)
}

// ZipStart finds a zip's end-of-central-directory record in b, the last
// bytes of a file of fileLen bytes, and returns where the zip's entries
// start in the file by the offsets it gives (a launch script or a stub
// before a zip leaves the offsets relative to the zip; a tool that
// adjusts them makes start 0, and the central directory, at cd, says
// where the first entry is). ok is false when there is no consistent
// record, or no entry.
func ZipStart(b []byte, fileLen int64) (start, cd int64, ok bool) {
	tailAt := fileLen - int64(len(b)) // where b starts in the file
	for i := len(b) - 22; i >= 0 && i >= len(b)-22-1024; i-- {
		if string(b[i:i+4]) != "PK\x05\x06" {
			continue
		}
		if int(binary.LittleEndian.Uint16(b[i+20:])) != len(b)-i-22 {
			continue // the comment does not run to the end
		}
		entries := uint64(binary.LittleEndian.Uint16(b[i+10:]))
		cdSize := uint64(binary.LittleEndian.Uint32(b[i+12:]))
		cdOff := uint64(binary.LittleEndian.Uint32(b[i+16:]))
		recAt := tailAt + int64(i) // the end record's place in the file
		if entries == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
			// Zip64: the locator before the record, and the zip64 end
			// record before it.
			l := i - 20
			z := l - 56
			if z < 0 || string(b[l:l+4]) != "PK\x06\x07" || string(b[z:z+4]) != "PK\x06\x06" {
				return 0, 0, false
			}
			entries = binary.LittleEndian.Uint64(b[z+32:])
			cdSize = binary.LittleEndian.Uint64(b[z+40:])
			cdOff = binary.LittleEndian.Uint64(b[z+48:])
			recAt = tailAt + int64(z)
		}
		if entries == 0 || cdSize > 1<<50 || cdOff > 1<<50 {
			return 0, 0, false
		}
		cd = recAt - int64(cdSize)
		start = cd - int64(cdOff)
		if start < 0 {
			return 0, 0, false
		}
		return start, cd, true
	}
	return 0, 0, false
}

// FirstLocal returns the smallest local header offset the central
// directory entries at the start of cd name, or -1.
func FirstLocal(cd []byte) int64 {
	first := int64(-1)
	for len(cd) >= 46 && string(cd[:4]) == "PK\x01\x02" {
		off := int64(binary.LittleEndian.Uint32(cd[42:]))
		if first < 0 || off < first {
			first = off
		}
		n := 46 + int(binary.LittleEndian.Uint16(cd[28:])) + int(binary.LittleEndian.Uint16(cd[30:])) + int(binary.LittleEndian.Uint16(cd[32:]))
		if n > len(cd) {
			break
		}
		cd = cd[n:]
	}
	return first
}
