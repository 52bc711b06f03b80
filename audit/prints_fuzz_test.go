package audit

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sealenv/sealenv/internal/match"
)

// FuzzKeylessLayer plants one encoded form of a sealed value (any form
// match.Forms lists, chosen by form) at any offset of any bytes taken as a
// layer, and audits them with no identity, by the value's fingerprint
// alone. The invariant: the value is found, or the layer was not read to
// its end, or the walk says it is incomplete; a keyless audit never passes
// a planted value silently. The seeds (a tar, a gzip tar, a tar in a tar,
// bytes that are no tar) run with every go test; .ci/run fuzzes it for a
// short while.
func FuzzKeylessLayer(f *testing.F) {
	v := []byte(randString(f, alnum, 24) + `/+?&"<> é`)
	forms := match.Forms(v)
	for i := range forms {
		f.Add(tarBytes(f, file{"app/config.txt", bytes.Repeat([]byte("x"), 700)}), uint32(520+i*7), uint8(i))
	}
	f.Add(gz(f, tarBytes(f, file{"a.txt", bytes.Repeat([]byte("y"), 300)})), uint32(10), uint8(0))
	f.Add(tarBytes(f, file{"in.tar", tarBytes(f, file{"b.txt", bytes.Repeat([]byte("z"), 400)})}), uint32(1100), uint8(1))
	f.Add([]byte("not a tar at all, only bytes"), uint32(3), uint8(2))
	d := defaultDetectors(nil)
	d.usePrints(printsOf(f, []Value{{Name: "V", Value: v}}))
	lim := limits{depth: 4, sparse: 64 << 20, check: 1 << 20, window: 16 << 20, buffer: 16 << 20}
	pool := sync.Pool{New: func() any { return newWalker(d, lim) }}
	f.Fuzz(func(t *testing.T, b []byte, at uint32, form uint8) {
		p := forms[int(form)%len(forms)].Text
		b = append([]byte(nil), b...)
		if len(b) < len(p) {
			b = append(b, make([]byte, len(p)-len(b))...)
		}
		off := int(at) % (len(b) - len(p) + 1)
		copy(b[off:], p)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cr := &countingReader{r: bytes.NewReader(b)}
		w := pool.Get().(*walker)
		defer pool.Put(w)
		res, err := w.layer(ctx, cr, v1.Hash{})
		if ctx.Err() != nil {
			t.Fatalf("stalled: %d-byte input still running after 5 s", len(b))
		}
		if res == nil {
			if cr.n == int64(len(b)) {
				t.Fatalf("read to the end, but no result: %v", err)
			}
			return
		}
		for _, h := range res.hits {
			if h.Name == "V" {
				return
			}
		}
		if err == nil && len(res.incomplete) == 0 {
			t.Fatalf("the %s form planted at %d is not found, and the walk says it is complete (read %d of %d bytes)",
				forms[int(form)%len(forms)].Encoding, off, cr.n, len(b))
		}
	})
}
