package decode

import (
	"os"
	"testing"
)

// FuzzHeaders feeds any bytes to the parsers that read a format's header
// from a peeked buffer: none may panic or read past what it was given.
func FuzzHeaders(f *testing.F) {
	if elf, err := os.ReadFile("/proc/self/exe"); err == nil && len(elf) > 4096 {
		f.Add(elf[:4096])
	}
	f.Add([]byte("MZ" + string(make([]byte, 62))))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Add([]byte("\x28\xb5\x2f\xfd\x04\x00"))
	f.Add([]byte("\x11\x1e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ExeEnd(b)
		if start, cd, ok := ZipStart(b, int64(len(b))+5); ok && (start < 0 || cd < start) {
			t.Fatalf("zipStart: start %d, central directory %d", start, cd)
		}
		FirstLocal(b)
		ZstdWindow(b)
		BrotliWindow(b)
	})
}
