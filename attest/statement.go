package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/audit/rules"
)

// Type URIs and media types of an attestation.
const (
	// PredicateType identifies sealenv's audit verdict; its fields are
	// [Predicate]'s. A change that a policy written for it could misread
	// gets a new version (…/v2), never a change under v1.
	PredicateType = "https://sealenv.dev/audit/v1"
	// StatementType is the in-toto Statement layer this package writes.
	StatementType = "https://in-toto.io/Statement/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// EnvelopeMediaType is the media type of a layer that holds a DSSE
	// envelope, as cosign writes it.
	EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"
	// ArtifactType marks an OCI 1.1 referrer manifest that holds a sealenv
	// verdict in a DSSE envelope (the in-toto convention
	// application/vnd.in-toto.<predicate>+dsse).
	ArtifactType = "application/vnd.in-toto.sealenv-audit+dsse"
)

// statementV01 is the in-toto Statement type cosign attest writes; it is
// read like v1.
const statementV01 = "https://in-toto.io/Statement/v0.1"

// Statement is an in-toto Statement (v1) about one image.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject names an image by the digest of its manifest or index: the digest
// a registry or an OCI layout knows it by, never its config's.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is the verdict of one audit. It holds counts and coverage
// only: never a value, a masked preview, a path or a key name.
type Predicate struct {
	// Verdict is "clean" (complete, no finding), "findings" or
	// "incomplete" (something could not be searched; findings may be
	// counted too).
	Verdict string `json:"verdict"`
	// Complete says every byte of the image was searched.
	Complete bool `json:"complete"`
	// Severity is the lowest rule severity the audit reported: findings
	// below it were not looked for.
	Severity string `json:"severity"`
	// Findings counts the findings by severity.
	Findings Counts `json:"findings"`
	// Suppressed counts findings the policy's allowlist or baseline hid.
	Suppressed int      `json:"suppressed"`
	Coverage   Coverage `json:"coverage"`
	Scanner    Scanner  `json:"scanner"`
	// Time is when the audit ended, in UTC (RFC 3339).
	Time time.Time `json:"time"`
}

// Counts are findings by severity; Total counts every finding, also one of
// a severity this version does not know.
type Counts struct {
	Total  int `json:"total"`
	High   int `json:"high"`
	Medium int `json:"medium"`
	Low    int `json:"low"`
}

// Coverage says what the audit read.
type Coverage struct {
	Images       int   `json:"images"`
	Layers       int   `json:"layers"`
	Files        int64 `json:"files"`
	Bytes        int64 `json:"bytes"`
	Attestations int   `json:"attestations"`
	// ValuesByKey counts the sealed values searched for as values, opened
	// with an identity.
	ValuesByKey int `json:"values_by_key"`
	// ValuesByFingerprint counts the sealed values searched for by their
	// salted fingerprints, without an identity. This version of the audit
	// has no such search and always writes 0.
	ValuesByFingerprint int `json:"values_by_fingerprint"`
	// ShortValues counts sealed values too short to search.
	ShortValues int `json:"short_values"`
	MinValueLen int `json:"min_value_len"`
	// NotSearched counts the reasons the audit is incomplete.
	NotSearched int `json:"not_searched"`
	// RuleSet is the version of the rule set.
	RuleSet string `json:"rule_set"`
}

// Scanner names the tool that audited.
type Scanner struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URI     string `json:"uri"`
}

// Verdicts.
const (
	VerdictClean      = "clean"
	VerdictFindings   = "findings"
	VerdictIncomplete = "incomplete"
)

// NewPredicate summarises a report: the verdict, counts by severity and the
// coverage. version is sealenv's; at is when the audit ended.
func NewPredicate(r *audit.Report, version string, at time.Time) Predicate {
	c := r.Coverage
	p := Predicate{
		Complete: c.Complete,
		Severity: c.Severity,
		Coverage: Coverage{
			Images:       c.Images,
			Layers:       c.Layers,
			Files:        c.Files,
			Bytes:        c.Bytes,
			Attestations: c.Attestations,
			ValuesByKey:  c.KnownValues,
			ShortValues:  len(c.ShortValues),
			MinValueLen:  c.MinValueLen,
			NotSearched:  len(c.Errors),
			RuleSet:      c.RuleSet,
		},
		Scanner: Scanner{Name: "sealenv", Version: version, URI: "https://github.com/sealenv/sealenv"},
		Time:    at.UTC().Truncate(time.Second),
	}
	if !c.Complete && p.Coverage.NotSearched == 0 {
		p.Coverage.NotSearched = 1 // incomplete without a reason still says so
	}
	for _, f := range r.Findings {
		p.Findings.Total++
		switch f.Severity {
		case "high":
			p.Findings.High++
		case "medium":
			p.Findings.Medium++
		case "low":
			p.Findings.Low++
		}
	}
	for _, s := range r.Suppressed {
		p.Suppressed += s.Count
	}
	switch {
	case !p.Complete:
		p.Verdict = VerdictIncomplete
	case p.Findings.Total > 0:
		p.Verdict = VerdictFindings
	default:
		p.Verdict = VerdictClean
	}
	return p
}

// Clean reports whether the verdict is complete with no finding.
func (p *Predicate) Clean() bool {
	return p.Complete && p.Findings.Total == 0 && p.Coverage.NotSearched == 0
}

// atOrAbove counts the findings at or above s. A finding of a severity the
// counts do not name is counted too: what cannot be placed is not proven
// below s.
func (p *Predicate) atOrAbove(s rules.Severity) int {
	n := p.Findings.Total - p.Findings.High - p.Findings.Medium - p.Findings.Low
	if n < 0 {
		n = 0
	}
	n += p.Findings.High
	if s <= rules.Medium {
		n += p.Findings.Medium
	}
	if s <= rules.Low {
		n += p.Findings.Low
	}
	return n
}

// NewStatement makes the statement that subject's audit ended with p.
func NewStatement(subject Subject, p Predicate) *Statement {
	return &Statement{Type: StatementType, Subject: []Subject{subject}, PredicateType: PredicateType, Predicate: p}
}

// Marshal encodes the statement as the payload of an envelope.
func (s *Statement) Marshal() ([]byte, error) {
	return json.Marshal(s)
}

// statement is a statement as read: the predicate is sealenv's only when
// PredicateType says so.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// errOtherType is a statement of another predicate type: not an error of
// the attestation, just not sealenv's.
var errOtherType = errors.New("another predicate type")

// ParseStatement reads an in-toto statement (v1, or v0.1 as cosign attest
// writes it) of sealenv's predicate type, checking that every field of the
// verdict is there.
func ParseStatement(b []byte) (*Statement, error) {
	var st statement
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("malformed in-toto statement: %v", err)
	}
	if st.Type != StatementType && st.Type != statementV01 {
		return nil, fmt.Errorf("not an in-toto statement (_type %q)", st.Type)
	}
	if st.PredicateType != PredicateType {
		return nil, fmt.Errorf("%w: %q", errOtherType, st.PredicateType)
	}
	if len(st.Subject) == 0 {
		return nil, errors.New("the statement has no subject")
	}
	p, err := parsePredicate(st.Predicate)
	if err != nil {
		return nil, err
	}
	return &Statement{Type: st.Type, Subject: st.Subject, PredicateType: st.PredicateType, Predicate: *p}, nil
}

// parsePredicate reads a predicate and refuses one that lacks a field a
// verdict needs: a missing count is not a zero.
func parsePredicate(raw json.RawMessage) (*Predicate, error) {
	var probe struct {
		Verdict  *string `json:"verdict"`
		Complete *bool   `json:"complete"`
		Severity *string `json:"severity"`
		Findings *struct {
			Total, High, Medium, Low *int
		} `json:"findings"`
		Coverage *struct {
			NotSearched *int    `json:"not_searched"`
			RuleSet     *string `json:"rule_set"`
		} `json:"coverage"`
		Time *time.Time `json:"time"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("malformed %s predicate: %v", PredicateType, err)
	}
	var missing []string
	add := func(ok bool, name string) {
		if !ok {
			missing = append(missing, name)
		}
	}
	add(probe.Verdict != nil, "verdict")
	add(probe.Complete != nil, "complete")
	add(probe.Severity != nil, "severity")
	add(probe.Findings != nil, "findings")
	if probe.Findings != nil {
		f := probe.Findings
		add(f.Total != nil, "findings.total")
		add(f.High != nil, "findings.high")
		add(f.Medium != nil, "findings.medium")
		add(f.Low != nil, "findings.low")
	}
	add(probe.Coverage != nil, "coverage")
	if probe.Coverage != nil {
		add(probe.Coverage.NotSearched != nil, "coverage.not_searched")
		add(probe.Coverage.RuleSet != nil, "coverage.rule_set")
	}
	add(probe.Time != nil, "time")
	if len(missing) > 0 {
		return nil, fmt.Errorf("the %s predicate lacks %s", PredicateType, strings.Join(missing, ", "))
	}
	var p Predicate
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("malformed %s predicate: %v", PredicateType, err)
	}
	if _, err := rules.ParseSeverity(p.Severity); err != nil {
		return nil, fmt.Errorf("the %s predicate's severity: %v", PredicateType, err)
	}
	f := p.Findings
	if f.Total < 0 || f.High < 0 || f.Medium < 0 || f.Low < 0 || f.High+f.Medium+f.Low > f.Total || p.Coverage.NotSearched < 0 {
		return nil, fmt.Errorf("the %s predicate's counts do not add up", PredicateType)
	}
	return &p, nil
}

// digestOf returns the subject's sha256 digest ("sha256:hex"), if any.
func (s Subject) digestOf() string {
	if h := s.Digest["sha256"]; h != "" {
		return "sha256:" + h
	}
	return ""
}
