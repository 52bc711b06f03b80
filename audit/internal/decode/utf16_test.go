package decode

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16Bytes(s string, order binary.AppendByteOrder, bom bool) []byte {
	var b []byte
	if bom {
		b = order.AppendUint16(b, 0xfeff)
	}
	for _, c := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, c)
	}
	return b
}

// The UTF-16 decoder agrees with unicode/utf16 on text with surrogate
// pairs, read in pieces of every size, and marks unpaired surrogates.
func TestUTF16Reader(t *testing.T) {
	text := strings.Repeat("ascii é€😀 \r\n", 700)
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		b := utf16Bytes(text, order, false)
		for _, size := range []int{1, 3, 4096, 1 << 20} {
			u := NewUTF16Reader(bufio.NewReaderSize(bytes.NewReader(b), 16), order.(binary.ByteOrder))
			var out bytes.Buffer
			buf := make([]byte, size)
			for {
				n, err := u.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if out.String() != text {
				t.Fatalf("read by %d: %d bytes, want %d", size, out.Len(), len(text))
			}
		}
	}
	lone := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, 0xd800), 'a')
	out, _ := io.ReadAll(NewUTF16Reader(bufio.NewReader(bytes.NewReader(lone)), binary.LittleEndian))
	if string(out) != "\ufffda" {
		t.Fatalf("unpaired surrogate: %q", out)
	}
}
