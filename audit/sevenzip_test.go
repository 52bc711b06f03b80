package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// sevenZip makes a 7z with 7zz from files, with the given switches.
func sevenZip(t *testing.T, switches []string, files ...file) []byte {
	dir := t.TempDir()
	writeTree(t, dir, files...)
	args := append([]string{"a", "-bd", "-bso0", "out.7z"}, switches...)
	for _, f := range files {
		args = append(args, f.name)
	}
	runTool(t, dir, nil, nil, "7zz", args...)
	b, err := os.ReadFile(filepath.Join(dir, "out.7z"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// 7z archives as 7zz writes them: LZMA2 by default (with the BCJ filter
// before an executable), LZMA, copy, BZip2, Deflate; solid or not. The
// settings file's secrets are found in the member; the clean twin is
// clean. Encrypted members and methods the audit does not decode are
// incomplete, never clean.
func TestSevenZip(t *testing.T) {
	p := plantSecrets(t)
	elf, err := os.ReadFile(peer(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sw := range [][]string{nil, {"-m0=LZMA"}, {"-mx=0"}, {"-m0=BZip2"}, {"-m0=Deflate"}, {"-ms=off"}, {"-mhc=off"}} {
		t.Run(join(sw), func(t *testing.T) {
			files := []file{{"bin/tool", elf}, {"conf/app.env", p.env()}, {"doc/readme.txt", text(50<<10, 12)}}
			p.wantBoth(t, auditFiles(t, p.opts, file{"opt/bundle.7z", sevenZip(t, sw, files...)}), "opt/bundle.7z!/conf/app.env")
			files[1].data = cleanBody()
			wantClean(t, auditFiles(t, p.opts, file{"opt/bundle.7z", sevenZip(t, sw, files...)}))
		})
	}
	for _, c := range []struct {
		sw   []string
		want string
	}{
		{[]string{"-pnotasecret", "-mhe=off"}, "encrypted (AES)"},
		{[]string{"-pnotasecret", "-mhe=on"}, "encrypted (AES)"},
		{[]string{"-m0=PPMd"}, "the coder 030401, which the audit does not decode"},
	} {
		t.Run(join(c.sw), func(t *testing.T) {
			wantIncomplete(t, auditFiles(t, p.opts, file{"opt/bundle.7z", sevenZip(t, c.sw, file{"conf/app.env", cleanBody()})}), c.want)
		})
	}
	t.Run("limits", func(t *testing.T) {
		b := sevenZip(t, nil, file{"conf/app.env", cleanBody()}, file{"doc/readme.txt", text(2<<20, 13)})
		wantIncomplete(t, auditFiles(t, Options{MaxWindow: 64 << 10}, file{"opt/bundle.7z", b}), "beyond the window limit of 64 KiB")
		wantIncomplete(t, auditFiles(t, Options{MaxBuffer: 64 << 10}, file{"opt/bundle.7z", b}), "opt/bundle.7z: 7z needs to be held whole in memory")
		// A 7z bomb: its LZMA coder asks for a dictionary of 1.5 GiB (7zz
		// shrinks it to the data's size; the header is patched, and its
		// checksums made right again). Refused before it is allocated.
		bomb := sevenZip(t, []string{"-m0=LZMA", "-mhc=off"}, file{"zeros", make([]byte, 1<<20)})
		off := int64(leU64(bomb[12:]))
		hdr := bomb[32+off:]
		i := bytes.Index(hdr, []byte{0x23, 0x03, 0x01, 0x01, 0x05})
		if i < 0 {
			t.Fatal("no LZMA coder in the 7z header")
		}
		binary.LittleEndian.PutUint32(hdr[i+6:], 1536<<20)
		binary.LittleEndian.PutUint32(bomb[28:], crc32.ChecksumIEEE(hdr))
		binary.LittleEndian.PutUint32(bomb[8:], crc32.ChecksumIEEE(bomb[12:32]))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := auditFiles(t, Options{}, file{"opt/bomb.7z", bomb})
		runtime.ReadMemStats(&after)
		wantIncomplete(t, r, "opt/bomb.7z: 7z needs a window of 1536 MiB, beyond the window limit of 128 MiB")
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Errorf("a 7z asking for a 1.5 GiB dictionary allocated %d MiB", grew>>20)
		}
	})
}

func join(s []string) string {
	if len(s) == 0 {
		return "default"
	}
	return string(bytes.Join(func() (out [][]byte) {
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return
	}(), []byte(" ")))
}

// The x86 branch filter is undone exactly: executables 7zz filtered with
// BCJ come back byte for byte.
func TestSevenZipBCJExact(t *testing.T) {
	t.Parallel()
	var files []file
	for _, name := range []string{"true", "ls", "tar", "git"} {
		b, err := os.ReadFile(peer(t, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{"bin/" + name, b})
	}
	arc := sevenZip(t, []string{"-mf=BCJ"}, files...)
	w := newWalker(defaultDetectors(nil), testLimits(8))
	w.lim.window, w.lim.buffer = 128<<20, 256<<20
	w.ctx = context.Background()
	got := map[string][32]byte{}
	w.res = &layerScan{}
	// Decode the archive's folders as the walker does and hash each
	// member.
	off, size := int64(leU64(arc[12:])), int64(leU64(arc[20:]))
	r := &szReader{b: arc[32+off : 32+off+size]}
	if r.byte() == szEncodedHeader {
		st := r.streamsInfo()
		fr, err := w.szFolderReader(arc, st, 0)
		if err != nil {
			t.Fatal(err)
		}
		hdr, _ := io.ReadAll(io.LimitReader(fr, st.folders[0].unpackSize()))
		r = &szReader{b: hdr}
		r.byte()
	}
	st, names := headerStreams(t, r)
	k := 0
	for fi := range st.folders {
		fr, err := w.szFolderReader(arc, st, fi)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < st.numUnpack[fi]; j++ {
			h := sha256.New()
			io.CopyN(h, fr, st.subSizes[k])
			var sum [32]byte
			copy(sum[:], h.Sum(nil))
			got[names[k]] = sum
			k++
		}
	}
	for _, f := range files {
		if got[f.name] != sha256.Sum256(f.data) {
			t.Errorf("%s: decoded bytes differ from the original", f.name)
		}
	}
}

func leU64(b []byte) uint64 {
	var x uint64
	for i := 7; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// headerStreams reads a decoded 7z header's streams and the names of the
// members with data, as szHeader does.
func headerStreams(t *testing.T, r *szReader) (*szStreams, []string) {
	st := &szStreams{}
	var names []string
	var empty []bool
	for r.err == nil {
		switch r.byte() {
		case szEnd:
			var out []string
			for i, n := range names {
				if len(empty) == 0 || !empty[i] {
					out = append(out, n)
				}
			}
			return st, out
		case szMainStreamsInfo:
			st = r.streamsInfo()
		case szFilesInfo:
			n := r.count()
			names = make([]string, n)
			for {
				k := r.byte()
				if k == szEnd {
					break
				}
				data := &szReader{b: r.bytes(r.number())}
				switch k {
				case szEmptyStream:
					empty = data.bits(n)
				case szName:
					data.byte()
					var u []rune
					for i := 0; len(data.b) >= 2; {
						c := rune(data.b[0]) | rune(data.b[1])<<8
						data.b = data.b[2:]
						if c == 0 {
							names[i] = string(u)
							u = nil
							i++
							continue
						}
						u = append(u, c)
					}
				}
			}
		default:
			t.Fatal("unexpected header property")
		}
	}
	t.Fatal(r.err)
	return nil, nil
}
