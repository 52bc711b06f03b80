package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sealenv/sealenv/audit/internal/transport"
	"github.com/sealenv/sealenv/imageref"
)

// ImageResult is one source's verdict in a report of many images.
type ImageResult struct {
	Source string `json:"source"`
	// Status is clean, findings or incomplete (the worst that holds).
	Status   string   `json:"status"`
	Findings int      `json:"findings"`
	Coverage Coverage `json:"coverage"`
}

// Statuses of an [ImageResult], from best to worst.
const (
	StatusClean      = "clean"
	StatusFindings   = "findings"
	StatusIncomplete = "incomplete"
)

func status(complete bool, findings int) string {
	switch {
	case !complete:
		return StatusIncomplete
	case findings > 0:
		return StatusFindings
	}
	return StatusClean
}

// layerMemo keeps the scans of one run of many images, so that a layer
// two images share is searched once, also when the two are audited at the
// same time: the first to ask for a layer searches it, the others wait for
// its verdict (a singleflight keyed by the blob's digest, beside the
// verdict cache). Which image searched a layer never shows in the report:
// [layerMemo.settle] gives every image its verdict in the order of the
// sources once all are searched.
type layerMemo struct {
	mu    sync.Mutex
	scans map[string]*memoEntry
	// walkers are the run's workers: a layer is searched only with one
	// taken from here, so that --jobs bounds the layers searched at once
	// across all the images, and memory with it.
	walkers chan *walker
	// searched counts, per layer, the searches made (for tests).
	searched map[string]int
}

type memoEntry struct {
	busy   bool          // an image is searching it
	done   chan struct{} // closed when that search ends
	scan   *layerScan    // the verdict, once one image had it
	cached bool          // the verdict came from the verdict cache
}

func memoKey(l *layerJob) string { return l.digest + "\x00" + l.blob + "\x00" + l.where }

func newLayerMemo(o *Options, d *detectors) *layerMemo {
	m := &layerMemo{scans: map[string]*memoEntry{}, walkers: make(chan *walker, o.Jobs), searched: map[string]int{}}
	slots := asyncSlots()
	for range o.Jobs {
		wk := newWalker(d, o.limits())
		wk.async = slots
		m.walkers <- wk
	}
	return m
}

// claim returns l's verdict if an image of the run had it, waiting for a
// search under way; else it returns lead true, and the caller searches l
// and calls done. With wait false it does not wait: a layer being searched
// is then neither returned nor led.
func (m *layerMemo) claim(ctx context.Context, l *layerJob, wait bool) (s *layerScan, lead bool) {
	k := memoKey(l)
	for {
		m.mu.Lock()
		e := m.scans[k]
		switch {
		case e == nil:
			m.scans[k] = &memoEntry{busy: true, done: make(chan struct{})}
			m.mu.Unlock()
			return nil, true
		case e.scan != nil:
			m.mu.Unlock()
			return e.scan, false
		case !e.busy:
			// The image that searched it could not read it: this one
			// tries its own copy.
			e.busy, e.done = true, make(chan struct{})
			m.mu.Unlock()
			return nil, true
		}
		ch := e.done
		m.mu.Unlock()
		if !wait {
			return nil, false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// done ends the search claim granted: s is the verdict, nil if the layer
// could not be read.
func (m *layerMemo) done(l *layerJob, s *layerScan, cached bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.scans[memoKey(l)]
	if s != nil {
		e.scan, e.cached = s, cached
	}
	e.busy = false
	close(e.done)
}

// settle gives the layers of the images, in the order of the sources,
// their verdicts: the first image that names a layer has it as searched
// (or from the verdict cache), the others as reused, whichever image
// searched it. A layer one image could not read has the verdict of
// another's copy of the same digest.
func (m *layerMemo) settle(as []*auditor) {
	seen := map[string]bool{}
	for _, a := range as {
		if a == nil {
			continue
		}
		for _, img := range a.images {
			for _, l := range img.layers {
				if l.shared != nil || !l.cacheable() {
					continue
				}
				k := memoKey(l)
				e := m.scans[k]
				if e == nil || e.scan == nil {
					continue
				}
				l.scan, l.err = e.scan, nil
				l.reused = seen[k]
				l.cached = !seen[k] && e.cached
				seen[k] = true
			}
		}
	}
}

// Refs audits many images in one run and returns one report: each
// source's verdict in Images, every finding with its Source. The images
// are audited at once, with at most Jobs layers searched at a time across
// them; a layer (a blob named by its digest) that several images share is
// searched once. The report does not depend on the order the searches
// ended in. A source that cannot be opened is an incomplete image with the
// reason, not the end of the run; an error means the run was cancelled.
func Refs(ctx context.Context, refs []imageref.Ref, opts Options) (*Report, error) {
	if len(refs) == 0 {
		return nil, errors.New("no image to audit")
	}
	o := opts.defaults()
	d := o.detectors()
	if o.memo == nil {
		o.memo = newLayerMemo(o, d)
	}
	as := make([]*auditor, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, o.Jobs)
	var wg sync.WaitGroup
	for i, ref := range refs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			as[i], errs[i] = searchRef(ctx, ref, o, d)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	o.memo.settle(as)
	var reps []*Report
	for i, ref := range refs {
		var r *Report
		if errs[i] != nil {
			r = newReport(ref.String(), o)
			r.Coverage.Complete = false
			r.Coverage.Errors = []string{maskError(d, errs[i]).Error()}
			r.mask = d
		} else {
			r = as[i].report(as[i].rep.Source)
		}
		r.Source = ref.String()
		reps = append(reps, r)
	}
	return Merge(reps...), nil
}

// searchRef opens ref and searches its layers; the store is closed
// before the report is made.
func searchRef(ctx context.Context, ref imageref.Ref, o *Options, d *detectors) (*auditor, error) {
	st, label, err := transport.Open(ctx, ref, transport.Options{Insecure: o.Insecure, DaemonHost: o.DaemonHost, TempDir: o.TempDir})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return searchWith(ctx, st, label, o, d)
}

// ReadReport reads a report that [Report.WriteJSON] wrote (sealenv
// audit --format json), to merge it with others.
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("not a sealenv JSON report: %w", err)
	}
	if rep.Tool != "sealenv" {
		return nil, fmt.Errorf("not a sealenv JSON report (tool %q)", rep.Tool)
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	return &rep, nil
}

// Merge joins reports (of one image each, or of many) into one: every
// source's verdict in Images, every finding with its Source, the
// coverage summed. The result is complete only if every report is, and
// clean only if every report is: its exit status is the worst of theirs.
// Reports of different rule sets are merged, with a note.
func Merge(reps ...*Report) *Report {
	out := &Report{Tool: "sealenv", Findings: []Finding{}}
	out.Coverage.Complete = true
	var sources []string
	rulesets := map[string]bool{}
	for _, r := range reps {
		if out.Version == "" {
			out.Version = r.Version
		}
		if out.rules == nil {
			out.rules = r.rules
		}
		if out.mask == nil {
			out.mask = r.mask
		}
		results := r.Images
		if len(results) == 0 {
			results = []ImageResult{{Source: r.Source, Status: status(r.Coverage.Complete, len(r.Findings)), Findings: len(r.Findings), Coverage: r.Coverage}}
		}
		for _, ir := range results {
			sources = append(sources, ir.Source)
			out.Images = append(out.Images, ir)
		}
		for _, f := range r.Findings {
			if f.Source == "" {
				f.Source = r.Source
			}
			out.Findings = append(out.Findings, f)
		}
		out.Provenance = append(out.Provenance, r.Provenance...)
		out.Suppressed = append(out.Suppressed, r.Suppressed...)
		c, oc := &r.Coverage, &out.Coverage
		oc.Images += c.Images
		oc.Layers += c.Layers
		oc.CachedLayers += c.CachedLayers
		oc.ReusedLayers += c.ReusedLayers
		oc.Files += c.Files
		oc.Bytes += c.Bytes
		oc.Attestations += c.Attestations
		oc.PublicSkipped += c.PublicSkipped
		oc.Complete = oc.Complete && c.Complete
		prefix := ""
		if len(r.Images) == 0 {
			prefix = r.Source + ": "
		}
		for _, e := range c.Errors {
			oc.Errors = append(oc.Errors, prefix+e)
		}
		if !c.Complete && len(c.Errors) == 0 {
			// A report that says it is incomplete without saying why
			// (one edited by hand) is still incomplete.
			oc.Errors = append(oc.Errors, r.Source+": incomplete, with no reason recorded")
		}
		for _, n := range c.Notes {
			oc.Notes = append(oc.Notes, prefix+n)
		}
		oc.KnownValues = max(oc.KnownValues, c.KnownValues)
		oc.MinValueLen = max(oc.MinValueLen, c.MinValueLen)
		oc.ShortValues = union(oc.ShortValues, c.ShortValues)
		oc.ShortAccepted = union(oc.ShortAccepted, c.ShortAccepted)
		if oc.Severity == "" {
			oc.Severity = c.Severity
		}
		if c.RuleSet != "" {
			rulesets[c.RuleSet] = true
		}
	}
	var rs []string
	for k := range rulesets {
		rs = append(rs, k)
	}
	sort.Strings(rs)
	out.Coverage.RuleSet = strings.Join(rs, ", ")
	if len(rs) > 1 {
		out.Coverage.Notes = append(out.Coverage.Notes, fmt.Sprintf("the reports were made with %d rule sets (%s)", len(rs), out.Coverage.RuleSet))
	}
	out.Source = fmt.Sprintf("%d images", len(sources))
	if len(sources) == 1 {
		out.Source = sources[0]
	}
	return out
}

func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}
