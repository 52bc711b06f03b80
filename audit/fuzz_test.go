package audit

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzLayer plants a known value at any place of any bytes taken as a
// layer, and asserts the invariant: whatever the structure, the value is
// found (every byte is searched as stored); a layer the walker calls
// complete was read to its end; and no input runs past a deadline (every
// loop honours cancellation, holes are not read byte by byte).
func FuzzLayer(f *testing.F) {
	tok := "ghp_" + randString(f, alnum, 36)
	f.Add(tarBytes(f, file{"a.txt", []byte(tok)}), uint32(600))
	f.Add(gz(f, tarBytes(f, file{"a.txt", []byte(tok)}, file{"b/.wh.c", nil})), uint32(30))
	f.Add(tarBytes(f, file{"x.jar", zipBytes(f, file{"y", []byte(tok)})}), uint32(700))
	f.Add(tarBytes(f, file{"x.tgz", gz(f, tarBytes(f, file{"y", []byte(tok)}))}), uint32(0))
	f.Add(append(tarBytes(f, file{"a", nil}), "trailing"...), uint32(1030))
	f.Add(sparseTar(f, 1<<40, rawHdr{name: "inner", size: 1 << 39}.block()), uint32(1536))
	f.Add(cat(paxEntry("SCHILY.xattr.user.x", "v"), rawEntry(rawHdr{name: "a", flag: '2', linkname: "b"}, nil), tarEnd()), uint32(512))
	v := []byte(randString(f, alnum, 16))
	d := defaultDetectors([]Value{{Name: "V", Value: v}})
	lim := limits{depth: 4, sparse: 64 << 20, check: 1 << 20}
	pool := sync.Pool{New: func() any { return newWalker(d, lim) }}
	f.Fuzz(func(t *testing.T, b []byte, at uint32) {
		b = append([]byte(nil), b...)
		if len(b) >= len(v) {
			copy(b[int(at)%(len(b)-len(v)+1):], v)
		}
		w := pool.Get().(*walker)
		defer pool.Put(w)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cr := &countingReader{r: bytes.NewReader(b)}
		res, err := w.layer(ctx, cr, v1.Hash{})
		if ctx.Err() != nil {
			t.Fatalf("stalled: %d-byte input still running after 5 s", len(b))
		}
		if len(b) < len(v) {
			return
		}
		if err == nil && len(res.incomplete) == 0 && cr.n != int64(len(b)) {
			t.Fatalf("complete, but read %d of %d bytes", cr.n, len(b))
		}
		if res == nil {
			if cr.n == int64(len(b)) {
				t.Fatalf("read to the end, but no result: %v", err)
			}
			return
		}
		found := false
		for _, h := range res.hits {
			if h.name == "V" {
				found = true
			}
		}
		if !found && cr.n == int64(len(b)) {
			t.Fatalf("planted value at %d not found (err %v, incomplete %q)", int(at)%(len(b)-len(v)+1), err, res.incomplete)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func FuzzBuildArgs(f *testing.F) {
	f.Add("RUN |2 A=b C=d /bin/sh -c x")
	f.Add("|1 TOKEN=")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range buildArgs(s) {
			if kv[0] == "" && kv[1] == "" && !bytes.Contains([]byte(s), []byte("=")) {
				t.Fatal("a pair from nothing")
			}
		}
	})
}
