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
	m := a.o.memo
	if m == nil {
		a.scanAlone(ctx, wk, vc, l)
		return
	}
	// In a run of many images: one search per layer across the run, with
	// one of the run's walkers; the flags are set by settle, in order.
	lead := false
	if l.cacheable() {
		if l.scan, lead = m.claim(ctx, l, true); l.scan != nil {
			return
		}
		if !lead {
			l.err = context.Cause(ctx)
			return
		}
	}
	wk = <-m.walkers
	defer func() { m.walkers <- wk }()
	if lead {
		if m.fromCache(vc, l) {
			return
		}
		defer func() { m.done(l, l.scan, false) }()
	}
	rc, r, err := a.openLayer(l)
	if err != nil {
		l.err = err
		return
	}
	defer rc.Close()
	if !lead && l.cacheable() {
		// A docker save layer found stored uncompressed: known by its
		// digest after all. Not waited for: this worker holds a walker.
		if l.scan, lead = m.claim(ctx, l, false); l.scan != nil {
			return
		}
		if lead {
			if m.fromCache(vc, l) {
				return
			}
			defer func() { m.done(l, l.scan, false) }()
		}
	}
	m.mu.Lock()
	m.searched[memoKey(l)]++
	m.mu.Unlock()
	a.search(ctx, wk, l, r)
	if l.err != nil {
		l.scan = nil
	} else if lead && vc != nil {
		vc.put(l, l.scan)
	}
}

// fromCache gives l, whose search this worker leads, the verdict cache's
// scan, and tells the run's other images (true); false when the cache has
// none.
func (m *layerMemo) fromCache(vc *verdictCache, l *layerJob) bool {
	if vc == nil {
		return false
	}
	if l.scan = vc.get(l); l.scan == nil {
		return false
	}
	m.done(l, l.scan, true)
	return true
}

// scanAlone is scanOne for the audit of one source.
func (a *auditor) scanAlone(ctx context.Context, wk *walker, vc *verdictCache, l *layerJob) {
	if vc != nil && l.cacheable() {
		if l.scan = vc.get(l); l.scan != nil {
			l.cached = true
			return
		}
	}
	rc, r, err := a.openLayer(l)
	if err != nil {
		l.err = err
		return
	}
	defer rc.Close()
	if vc != nil && l.plain && l.cacheable() {
		if l.scan = vc.get(l); l.scan != nil {
			l.cached = true
			return
		}
	}
	a.search(ctx, wk, l, r)
	if l.err == nil && vc != nil && l.cacheable() {
		vc.put(l, l.scan)
	}
}

// openLayer opens l. A docker save layer, named by its path, found stored
// uncompressed is marked plain: its bytes are what its diff ID names, and
// its verdict is that of any blob of that digest.
func (a *auditor) openLayer(l *layerJob) (io.Closer, io.Reader, error) {
	rc, err := l.open()
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = rc
	if l.key != "" && l.blob == "" && l.diffID.Hex != "" && l.digest == l.diffID.String() {
		br := bufio.NewReaderSize(rc, 4096)
		if head, _ := br.Peek(512); len(head) > 0 {
			if f, _ := sniff(head); !compressed(f) {
				l.plain = true
			}
		}
		r = br
	}
	return rc, r, nil
}

func (a *auditor) search(ctx context.Context, wk *walker, l *layerJob, r io.Reader) {
	if l.blob != "" {
		l.scan, l.err = wk.blobScan(ctx, r, l.blob)
	} else {
		l.scan, l.err = wk.layer(ctx, r, l.diffID)
	}
}
