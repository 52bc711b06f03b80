package attest

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/imageref"
)

// VerifyOptions say what [Verify] requires.
type VerifyOptions struct {
	Options
	// Key is the public key the attestation must be signed with.
	Key crypto.PublicKey
	// Severity: no finding at or above it may be counted (default medium,
	// the audit's default).
	Severity rules.Severity
	// Envelopes, when not nil, are verified instead of the attestations
	// attached to the image (a DSSE envelope as JSON each).
	Envelopes [][]byte
}

// Verified is an image whose attestation says it is clean.
type Verified struct {
	Target Target
	// Statement is the attestation that decided: the newest valid one.
	Statement *Statement
	// Found counts the envelopes read; Valid those signed with the key,
	// of sealenv's predicate type, about this image.
	Found, Valid int
}

// ErrNoAttestation: no valid sealenv attestation about the image.
var ErrNoAttestation = errors.New("no valid sealenv attestation")

// VerdictError is a valid attestation whose verdict does not pass: it
// counts findings at or above the severity, or the audit it records is
// incomplete, or it did not look as low as the severity asked for.
type VerdictError struct {
	Target    Target
	Statement *Statement
	Reason    string
}

func (e *VerdictError) Error() string {
	return fmt.Sprintf("%s (%s): %s", e.Target.Ref, e.Target.Descriptor.Digest, e.Reason)
}

// Verify checks that the image ref names has a valid sealenv attestation
// (signed with o.Key, of [PredicateType], about the image's own manifest
// or index digest) whose verdict is complete with no finding at or above
// o.Severity. Of several valid attestations the newest decides (a failing
// one, of two equally new). The error is a *[VerdictError] for a valid
// attestation that does not pass, and wraps [ErrNoAttestation] when there
// is none, with what was wrong with each envelope found.
func Verify(ctx context.Context, ref imageref.Ref, o VerifyOptions) (*Verified, error) {
	if o.Key == nil {
		return nil, errors.New("no public key to verify with")
	}
	if err := checkKey(o.Key); err != nil {
		return nil, err
	}
	if o.Severity == 0 {
		o.Severity = rules.Medium
	}
	t, err := Resolve(ctx, ref, o.Options)
	if err != nil {
		return nil, err
	}
	envs := o.Envelopes
	if envs == nil {
		if envs, err = Attached(ctx, t, o.Options); err != nil {
			return nil, err
		}
	}
	res := &Verified{Target: t, Found: len(envs)}
	var valid []*Statement
	why := map[string]int{}
	for _, b := range envs {
		st, err := check(b, o.Key, t)
		if err != nil {
			why[err.Error()]++
			continue
		}
		valid = append(valid, st)
	}
	res.Valid = len(valid)
	if len(valid) == 0 {
		if len(envs) == 0 {
			return nil, fmt.Errorf("%s (%s): %w: none is attached", ref, t.Descriptor.Digest, ErrNoAttestation)
		}
		return nil, fmt.Errorf("%s (%s): %w: %s", ref, t.Descriptor.Digest, ErrNoAttestation, reasons(why))
	}
	sort.SliceStable(valid, func(i, j int) bool {
		a, b := valid[i].Predicate, valid[j].Predicate
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		return !a.Clean() && b.Clean()
	})
	st := valid[0]
	res.Statement = st
	if reason := judge(&st.Predicate, o.Severity); reason != "" {
		return res, &VerdictError{Target: t, Statement: st, Reason: reason}
	}
	return res, nil
}

// check verifies one envelope: its signature with key, its payload type,
// its predicate type and its subject.
func check(b []byte, key crypto.PublicKey, t Target) (*Statement, error) {
	env, err := ParseEnvelope(b)
	if err != nil {
		return nil, err
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("payload type %q is not an in-toto statement", env.PayloadType)
	}
	payload, err := env.Verify(key)
	if err != nil {
		return nil, err
	}
	st, err := ParseStatement(payload)
	if errors.Is(err, errOtherType) {
		return nil, errors.New("another predicate type")
	}
	if err != nil {
		return nil, err
	}
	want := t.Descriptor.Digest.String()
	var other []string
	for _, s := range st.Subject {
		if s.digestOf() == want {
			return st, nil
		}
		if d := s.digestOf(); d != "" {
			other = append(other, d)
		}
	}
	if len(other) > 0 {
		return nil, fmt.Errorf("about another image (%s)", strings.Join(other, ", "))
	}
	return nil, errors.New("its subject has no sha256 digest")
}

// judge says why a verdict does not pass at severity s ("" when it does).
func judge(p *Predicate, s rules.Severity) string {
	audited, err := rules.ParseSeverity(p.Severity)
	switch {
	case err != nil:
		return fmt.Sprintf("the audit's severity %q is unknown", p.Severity)
	case !p.Complete || p.Coverage.NotSearched > 0 || p.Verdict == VerdictIncomplete:
		return fmt.Sprintf("the attested audit is incomplete (%d parts not searched, %d findings)", p.Coverage.NotSearched, p.Findings.Total)
	case audited > s:
		return fmt.Sprintf("the attested audit reported findings at %s and above only, so it cannot show there are none at %s; audit again with --severity %s", audited, s, s)
	}
	if n := p.atOrAbove(s); n > 0 {
		return fmt.Sprintf("the attestation counts %d findings at or above %s (high %d, medium %d, low %d)", n, s, p.Findings.High, p.Findings.Medium, p.Findings.Low)
	}
	return ""
}

// reasons lists what was wrong with the envelopes, most frequent first.
func reasons(why map[string]int) string {
	type r struct {
		text string
		n    int
	}
	var rs []r
	for t, n := range why {
		rs = append(rs, r{t, n})
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].n != rs[j].n {
			return rs[i].n > rs[j].n
		}
		return rs[i].text < rs[j].text
	})
	var parts []string
	for _, x := range rs {
		parts = append(parts, fmt.Sprintf("%s (%d)", x.text, x.n))
	}
	return fmt.Sprintf("%d found, none valid: %s", total(why), strings.Join(parts, "; "))
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
