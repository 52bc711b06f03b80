package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// File is one file of a working tree or a commit, for [Files].
type File struct {
	// Path names the file in findings (slash-separated).
	Path string
	// Open returns the file's content. It is called once to search it,
	// and once more, for a file with findings, to count lines.
	Open func() (io.ReadCloser, error)
}

// Files searches files with the detectors of an image audit: each file is
// one stream searched end to end, and what is compressed or archived
// inside it is opened, as in a layer. Findings are placed by path, line
// and offset (Where "file").
func Files(ctx context.Context, files []File, opts Options) (*Report, error) {
	o := opts.defaults()
	a := &auditor{o: o, d: o.detectors(), rep: newReport("files", o)}
	type result struct {
		scan *layerScan
		err  error
	}
	results := make([]result, len(files))
	ch := make(chan int)
	slots := asyncSlots()
	var wg sync.WaitGroup
	for w := 0; w < min(o.Jobs, max(len(files), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := newWalker(a.d, o.limits())
			wk.async = slots
			for i := range ch {
				if err := ctx.Err(); err != nil {
					results[i].err = err
					continue
				}
				rc, err := files[i].Open()
				if err != nil {
					results[i].err = err
					continue
				}
				results[i].scan, results[i].err = wk.fileScan(ctx, rc, files[i].Path)
				rc.Close()
			}
		}()
	}
	for i := range files {
		ch <- i
	}
	close(ch)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	cov := &a.rep.Coverage
	for i, r := range results {
		f := &files[i]
		if r.err != nil {
			a.incomplete("%s: %v", f.Path, r.err)
			continue
		}
		cov.Files += r.scan.files
		cov.Bytes += r.scan.bytes
		for _, e := range r.scan.incomplete {
			a.incomplete("%s", e)
		}
		cov.Notes = append(cov.Notes, r.scan.notes...)
		var found []Finding
		var inFile []int // findings in the file's own bytes, to get a line
		for _, h := range r.scan.hits {
			found = append(found, a.d.finding(h, whereFile))
			if h.depth == 0 && h.part == partData && h.path == f.Path {
				inFile = append(inFile, len(found)-1)
			}
		}
		for _, p := range r.scan.plain {
			p.Where = whereFile
			found = append(found, p)
		}
		if err := lines(f, found, inFile); err != nil {
			a.incomplete("%s: %v", f.Path, err)
		}
		a.rep.Findings = append(a.rep.Findings, found...)
	}
	a.coverValues()
	cov.PublicSkipped = int(a.d.m.Skipped())
	sort.SliceStable(a.rep.Findings, func(i, j int) bool {
		x, y := &a.rep.Findings[i], &a.rep.Findings[j]
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		return x.Line < y.Line
	})
	a.redactPlaces()
	a.rep.filter(o)
	return a.rep, nil
}

// lines gives the findings found[i] for i in idx, which are in the bytes
// of f itself, the line their offset is on, reading f once more.
func lines(f *File, found []Finding, idx []int) error {
	var want []*Finding
	for _, i := range idx {
		want = append(want, &found[i])
	}
	if len(want) == 0 {
		return nil
	}
	sort.Slice(want, func(i, j int) bool { return *want[i].Offset < *want[j].Offset })
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	var pos int64
	line := 1
	for _, fd := range want {
		for pos < *fd.Offset {
			b, err := br.ReadByte()
			if err != nil {
				return fmt.Errorf("changed while it was searched: %w", err)
			}
			if b == '\n' {
				line++
			}
			pos++
		}
		fd.Line = line
	}
	return nil
}

// fileScan searches one file: its content as a stream, and what is
// compressed or archived inside it.
func (w *walker) fileScan(ctx context.Context, r io.Reader, path string) (*layerScan, error) {
	w.res = &layerScan{}
	w.ctx = ctx
	w.level = 0
	w.fieldHits = w.fieldHits[:0]
	s := w.getStream()
	defer w.putStream(s)
	s.reset(ctxReader{ctx, r}, path, partData)
	err := w.file(s, s, 0, path)
	if err == nil {
		err = s.drain(w.discard)
	}
	if err != nil && !strings.Contains(err.Error(), path) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	w.res.hits = append(w.res.hits, s.finish()...)
	w.res.bytes += s.n
	w.addFieldHits()
	w.gitFindings()
	return w.res, err
}
