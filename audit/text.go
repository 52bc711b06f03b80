package audit

import (
	"bufio"
	"encoding/binary"

	"github.com/sealenv/sealenv/audit/internal/creds"
	"github.com/sealenv/sealenv/audit/internal/decode"
)

// Text in UTF-16 (what Windows PowerShell 5's ">" and Out-File write, with
// a byte-order mark; .NET's and Java's UTF-16 writers, with or without) is
// searched like any other: its bytes as stored (where the known values'
// utf16le and utf16be forms match), and decoded to UTF-8 as a stream of
// its own, where the rules and every other form match, and where the
// credential-file readers read it.

// text looks into a file that is neither compressed nor an archive, whose
// first bytes are head: UTF-16 text is decoded and searched as a stream
// of its own; a file that may hold credentials, told by its name or its
// first bytes, is read for them.
func (w *walker) text(br *bufio.Reader, head []byte, name string) error {
	if order, skip, ok := decode.UTF16Text(head); ok {
		if _, err := br.Discard(skip); err != nil {
			return err
		}
		enc := "utf16le"
		if order == binary.BigEndian {
			enc = "utf16be"
		}
		from := len(w.res.hits)
		err := w.decoded(decode.NewUTF16Reader(br, order), name, func(ds *stream) error {
			return w.plaintext(ds, name)
		})
		// What was found in the decoded text is in the file as UTF-16.
		for i := from; i < len(w.res.hits); i++ {
			if h := &w.res.hits[i]; h.Encoding == "" || h.Encoding == "raw" {
				h.Encoding = enc
			} else {
				h.Encoding = enc + "+" + h.Encoding
			}
		}
		return err
	}
	if creds.KindOf(name, head) == creds.None {
		return nil
	}
	return w.plaintext(br, name)
}
