package audit

import (
	"bytes"
	"slices"
	"strings"

	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/internal/match"
	"github.com/sealenv/sealenv/seal"
)

// MinValueLen is the shortest sealed value, in bytes, that the known-value
// detector searches for. Shorter values would match by chance in any large
// image; they are not searched, and the report is incomplete unless the
// options accept that (Options.AllowShort, Options.ShortAccepted).
const MinValueLen = match.MinLen

// Value is a secret value to search for, with the name it has in its bundle.
type Value = seal.Secret

// detectors is what one audit searches with: the matcher (the known values
// in every form, the rules' keywords), the rules that confirm a keyword's
// match, and the names of the sealed keys.
type detectors struct {
	m      *match.Matcher
	rules  []*rules.Rule
	sealed map[string]bool
	public map[string]string // fingerprints of published secrets
	prints *Prints           // searched without an identity, or nil
}

func newDetectors(values []Value, rs []*rules.Rule, sealedNames []string) *detectors {
	d := &detectors{rules: rs, sealed: map[string]bool{}}
	for _, n := range sealedNames {
		d.sealed[n] = true
	}
	for _, v := range values {
		d.sealed[v.Name] = true
	}
	var kws []match.Keyword
	for ri, r := range rs {
		ci := strings.HasPrefix(r.Pattern, "(?i)")
		for _, k := range r.Keywords {
			kws = append(kws, match.Keyword{Text: k, Fold: ci, Rule: ri, Before: r.Before, After: r.MaxLen})
		}
	}
	d.m = match.New(matchValues(values), kws, d)
	return d
}

// matchValues converts values for package match.
func matchValues(values []Value) []match.Value {
	out := make([]match.Value, len(values))
	for i, v := range values {
		out[i] = match.Value(v)
	}
	return out
}

// Confirm runs rule ri's regular expression where one of its keywords
// starts (win[at:]): a match whose secret passes the rule's checks is
// reported, one of a secret the rule set lists as published only counted.
func (d *detectors) Confirm(ri int, win []byte, at int, dst []match.Match) []match.Match {
	r := d.rules[ri]
	for _, req := range r.Requires {
		if !bytes.Contains(win[at:], []byte(req)) {
			return dst
		}
	}
	for _, m := range r.Regex().FindAllSubmatchIndex(win, -1) {
		g := r.SecretGroup
		if m[2*g] < 0 {
			continue
		}
		secret := win[m[2*g]:m[2*g+1]]
		if !r.Accept(secret) {
			continue
		}
		skip := len(d.public) > 0 && d.public[rules.Fingerprint(secret)] != ""
		dst = append(dst, match.Match{Start: m[0], End: m[1], Skip: skip})
	}
	return dst
}

// scanner returns a scanner of the detectors.
func (d *detectors) scanner() *match.Scanner { return d.m.Scanner() }

// rule returns the rule of a hit, or nil for a known value.
func (d *detectors) rule(h match.Hit) *rules.Rule {
	if h.Known() {
		return nil
	}
	return d.rules[h.Rule]
}

// coverValues fills in what the known-value detector searched: how many
// values, and which were too short to search. A short value the options do
// not accept makes the report incomplete, naming its key: the audit could
// not prove that it is not in the image. An empty value has nothing to
// find and is not counted.
func (a *auditor) coverValues() {
	cov := &a.rep.Coverage
	cov.KnownValues = 0
	for _, v := range a.o.Values {
		if len(v.Value) >= MinValueLen {
			cov.KnownValues++
		}
	}
	cov.ShortValues, cov.ShortAccepted = nil, nil
	refused := map[string]bool{}
	var names []string
	for _, i := range a.d.m.Short() {
		n := a.o.Values[i].Name
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
		if !a.o.AllowShort && !slices.Contains(a.o.ShortAccepted, i) {
			refused[n] = true
		}
	}
	var open []string
	for _, n := range names {
		cov.ShortValues = append(cov.ShortValues, n)
		if refused[n] {
			open = append(open, n)
		} else {
			cov.ShortAccepted = append(cov.ShortAccepted, n)
		}
	}
	if len(open) > 0 {
		a.incomplete("sealed values shorter than the %d-byte search minimum: %s", MinValueLen, strings.Join(open, ", "))
	}
	a.coverPrints()
}
