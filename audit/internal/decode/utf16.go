package decode

import (
	"bufio"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// Text in UTF-16 (what Windows PowerShell 5's ">" and Out-File write, with
// a byte-order mark; .NET's and Java's UTF-16 writers, with or without) is
// told by its first bytes and decoded to UTF-8, where the rules and the
// credential-file readers read it.

// UTF16Text reports whether head starts like UTF-16 text, in which byte
// order, and how long its byte-order mark is. With a mark, what follows
// must be text (no control character but tab, CR and LF, no unpaired
// surrogate); without one, at least eight characters must be printable
// ASCII, the other byte of each zero.
func UTF16Text(head []byte) (binary.ByteOrder, int, bool) {
	var order binary.ByteOrder
	skip := 0
	switch {
	case len(head) >= 4 && head[0] == 0xff && head[1] == 0xfe && head[2] == 0 && head[3] == 0:
		return nil, 0, false // UTF-32
	case len(head) >= 2 && head[0] == 0xff && head[1] == 0xfe:
		order, skip = binary.LittleEndian, 2
	case len(head) >= 2 && head[0] == 0xfe && head[1] == 0xff:
		order, skip = binary.BigEndian, 2
	case len(head) >= 16 && head[1] == 0 && head[0] != 0:
		order = binary.LittleEndian
	case len(head) >= 16 && head[0] == 0 && head[1] != 0:
		order = binary.BigEndian
	default:
		return nil, 0, false
	}
	units := (len(head) - skip) / 2
	if units > 32 {
		units = 32
	}
	if skip == 0 && units < 8 {
		return nil, 0, false
	}
	hi := false
	for i := 0; i < units; i++ {
		c := order.Uint16(head[skip+2*i:])
		switch {
		case c == '\t' || c == '\n' || c == '\r':
		case c < 0x20 || c == 0x7f:
			return nil, 0, false
		case skip == 0 && c >= 0x7f:
			return nil, 0, false
		case c >= 0xd800 && c < 0xdc00:
			if hi {
				return nil, 0, false
			}
			hi = true
			continue
		case c >= 0xdc00 && c < 0xe000:
			if !hi {
				return nil, 0, false
			}
		case hi:
			return nil, 0, false
		}
		hi = false
	}
	return order, skip, true
}

// TextHead returns head as UTF-8 text: decoded when it is UTF-16.
func TextHead(head []byte) []byte {
	order, skip, ok := UTF16Text(head)
	if !ok {
		return head
	}
	var out []byte
	units := make([]uint16, 0, len(head)/2)
	for i := skip; i+1 < len(head); i += 2 {
		units = append(units, order.Uint16(head[i:]))
	}
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return out
}

// UTF16Reader decodes UTF-16 text to UTF-8, a buffer at a time. An
// unpaired surrogate becomes U+FFFD; an odd last byte is dropped.
type UTF16Reader struct {
	r     *bufio.Reader
	order binary.ByteOrder
	in    [4096]byte
	n     int // bytes of in not decoded yet (0 or 1)
	out   []byte
	hi    rune // a pending high surrogate, or 0
	err   error
}

func (u *UTF16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			if u.hi != 0 {
				u.out = utf8.AppendRune(u.out[:0], utf8.RuneError)
				u.hi = 0
				break
			}
			return 0, u.err
		}
		m, err := u.r.Read(u.in[u.n:])
		u.n += m
		if err != nil {
			u.err = err
		}
		u.out = u.out[:0]
		i := 0
		for ; i+1 < u.n; i += 2 {
			c := rune(u.order.Uint16(u.in[i:]))
			switch {
			case c >= 0xd800 && c < 0xdc00:
				if u.hi != 0 {
					u.out = utf8.AppendRune(u.out, utf8.RuneError)
				}
				u.hi = c
			case c >= 0xdc00 && c < 0xe000:
				if u.hi == 0 {
					u.out = utf8.AppendRune(u.out, utf8.RuneError)
				} else {
					u.out = utf8.AppendRune(u.out, utf16.DecodeRune(u.hi, c))
					u.hi = 0
				}
			default:
				if u.hi != 0 {
					u.out = utf8.AppendRune(u.out, utf8.RuneError)
					u.hi = 0
				}
				u.out = utf8.AppendRune(u.out, c)
			}
		}
		u.n = copy(u.in[:], u.in[i:u.n])
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// NewUTF16Reader decodes the UTF-16 text r holds, in the byte order order
// (after its byte-order mark), to UTF-8.
func NewUTF16Reader(r *bufio.Reader, order binary.ByteOrder) *UTF16Reader {
	return &UTF16Reader{r: r, order: order}
}
