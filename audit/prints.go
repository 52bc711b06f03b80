package audit

import (
	"sort"
	"strings"

	"github.com/sealenv/sealenv/internal/fingerprint"
)

// Prints are the sealed values an audit without an identity searches by
// their salted fingerprints (package internal/fingerprint), and the ones
// it cannot search so.
type Prints struct {
	// Set is the compiled fingerprints of the bundles.
	Set *fingerprint.Set
	// NotSearched are the sealed values the fingerprints do not cover;
	// each makes the report incomplete, naming its key.
	NotSearched []Unprinted
}

// Unprinted is a sealed value that fingerprints do not search, and why.
type Unprinted struct {
	Bundle, Name string
	Reason       UnprintedReason
	// Accepted: the policy's allow_short accepts that this value, too
	// guessable to fingerprint (WeakPrint only), is not searched without
	// an identity. It is listed in the coverage's short_accepted, and does
	// not make the report incomplete.
	Accepted bool
}

// UnprintedReason says why a value has no usable fingerprint.
type UnprintedReason string

const (
	// NoPrint: the bundle records no fingerprint of the value (written
	// before fingerprints, or by another tool).
	NoPrint UnprintedReason = "no fingerprint"
	// StalePrint: the value changed (sops set, sops edit) since its
	// fingerprint was made.
	StalePrint UnprintedReason = "stale fingerprint"
	// WeakPrint: the value is too short or too guessable to publish a
	// fingerprint of; only an identity can search it.
	WeakPrint UnprintedReason = "too guessable to fingerprint"
)

// forward is the way on from each reason a value was not searched.
var forward = map[UnprintedReason]string{
	NoPrint:    "; sealenv adopt BUNDLE (with an identity) records the missing ones (a value stored in plaintext has none: encrypt it)",
	StalePrint: "; sealenv adopt BUNDLE (with an identity) records them",
	WeakPrint:  "; give them strong values (sealenv rotate), accept them per key with allow_short in the policy, or audit with an identity",
}

// Digest identifies the searched set of values: two audits whose prints
// have the same digest search for the same values.
func (p *Prints) Digest() [32]byte {
	if p == nil || p.Set == nil {
		return [32]byte{}
	}
	return p.Set.Digest()
}

// printSearch lets the matcher search with a fingerprint set.
type printSearch struct{ s *fingerprint.Set }

func (p printSearch) MaxLen() int { return p.s.MaxLen() }

func (p printSearch) Digest() [32]byte { return p.s.Digest() }

func (p printSearch) Search(b []byte, from, to int, found func(name, encoding string, at, length int)) {
	p.s.SearchRange(b, from, to, func(_, name, enc string, at, n int) { found(name, enc, at, n) })
}

// usePrints makes the detectors search with p's fingerprints too.
func (d *detectors) usePrints(p *Prints) {
	if p == nil || p.Set == nil {
		return
	}
	d.m.WithPrints(printSearch{p.Set})
	d.prints = p
	// The names are sealed as those of keyed values are (a build argument
	// or variable named like one is reported).
	for _, n := range p.Set.Names() {
		d.sealed[n] = true
	}
	for _, u := range p.NotSearched {
		d.sealed[u.Name] = true
	}
}

// coverPrints fills in how many values the fingerprints searched; each
// value they could not search makes the report incomplete, with the keys
// named by reason.
func (a *auditor) coverPrints() {
	p := a.d.prints
	if p == nil {
		return
	}
	a.rep.Coverage.FingerprintValues = p.Set.Values()
	byReason := map[UnprintedReason][]string{}
	for _, u := range p.NotSearched {
		if u.Accepted && u.Reason == WeakPrint {
			a.rep.Coverage.ShortValues = append(a.rep.Coverage.ShortValues, u.Name)
			a.rep.Coverage.ShortAccepted = append(a.rep.Coverage.ShortAccepted, u.Name)
			continue
		}
		byReason[u.Reason] = append(byReason[u.Reason], u.Name)
	}
	sort.Strings(a.rep.Coverage.ShortValues)
	sort.Strings(a.rep.Coverage.ShortAccepted)
	for _, r := range []UnprintedReason{NoPrint, StalePrint, WeakPrint} {
		names := byReason[r]
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		a.incomplete("sealed values not searched without an identity (%s): %s%s", r, strings.Join(names, ", "), forward[r])
	}
}
