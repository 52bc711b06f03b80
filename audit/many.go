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
// two images share is searched once.
type layerMemo struct {
	mu    sync.Mutex
	scans map[string]*layerScan
}

func memoKey(l *layerJob) string { return l.digest + "\x00" + l.blob + "\x00" + l.where }

func (m *layerMemo) get(l *layerJob) *layerScan {
	if m == nil || !l.cacheable() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.scans[memoKey(l)]
}

func (m *layerMemo) put(l *layerJob, s *layerScan) {
	if m == nil || s == nil || !l.cacheable() {
		return
	}
	m.mu.Lock()
	m.scans[memoKey(l)] = s
	m.mu.Unlock()
}

// Refs audits many images in one run and returns one report: each
// source's verdict in Images, every finding with its Source. A layer
// (a blob named by its digest) that several images share is searched
// once. A source that cannot be opened is an incomplete image with the
// reason, not the end of the run; an error means the run was cancelled.
func Refs(ctx context.Context, refs []imageref.Ref, opts Options) (*Report, error) {
	if len(refs) == 0 {
		return nil, errors.New("no image to audit")
	}
	o := opts.defaults()
	o.memo = &layerMemo{scans: map[string]*layerScan{}}
	d := o.detectors()
	var reps []*Report
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		r, err := refWith(ctx, ref, o, d)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			r = newReport(ref.String(), o)
			r.Coverage.Complete = false
			r.Coverage.Errors = []string{maskError(d, err).Error()}
			r.mask = d
		}
		r.Source = ref.String()
		reps = append(reps, r)
	}
	return Merge(reps...), nil
}

// refWith is Ref with the options made and the detectors compiled.
func refWith(ctx context.Context, ref imageref.Ref, o *Options, d *detectors) (*Report, error) {
	st, label, err := transport.Open(ctx, ref, transport.Options{Insecure: o.Insecure, DaemonHost: o.DaemonHost, TempDir: o.TempDir})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return runWith(ctx, st, label, o, d)
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
