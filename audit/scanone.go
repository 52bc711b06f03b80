package audit

import (
	"bufio"
	"context"
	"io"
)

// scanOne gives layer l its scan: from another image of the same run,
// from the verdict cache, or searched by wk (and then kept in both).
func (a *auditor) scanOne(ctx context.Context, wk *walker, vc *verdictCache, l *layerJob) {
	if err := ctx.Err(); err != nil {
		l.err = err
		return
	}
	known := func() bool {
		if l.scan = a.o.memo.get(l); l.scan != nil {
			l.reused = true
			return true
		}
		if vc != nil && l.cacheable() {
			if l.scan = vc.get(l); l.scan != nil {
				a.o.memo.put(l, l.scan)
				l.cached = true
				return true
			}
		}
		return false
	}
	if known() {
		return
	}
	rc, err := l.open()
	if err != nil {
		l.err = err
		return
	}
	defer rc.Close()
	var r io.Reader = rc
	if l.key != "" && l.blob == "" && l.diffID.Hex != "" && l.digest == l.diffID.String() {
		// A docker save layer, named by its path: stored uncompressed,
		// its bytes are what its diff ID names, and its verdict is that
		// of any blob of that digest.
		br := bufio.NewReaderSize(rc, 4096)
		if head, _ := br.Peek(512); len(head) > 0 {
			if f, _ := sniff(head); !compressed(f) {
				l.plain = true
				if known() {
					return
				}
			}
		}
		r = br
	}
	if l.blob != "" {
		l.scan, l.err = wk.blobScan(ctx, r, l.blob)
	} else {
		l.scan, l.err = wk.layer(ctx, r, l.diffID)
	}
	if l.err == nil {
		a.o.memo.put(l, l.scan)
		if vc != nil && l.cacheable() {
			vc.put(l, l.scan)
		}
	}
}
