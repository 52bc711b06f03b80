package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// Allow suppresses the findings that match every field it sets. Reason is
// required and is printed in the report.
type Allow struct {
	Rule   string // a rule id
	Path   string // a glob (path.Match) or a plain prefix of the finding's path
	Secret string // a sealed key name
	Reason string
}

func (a *Allow) matches(f *Finding) bool {
	if a.Rule != "" && a.Rule != f.Rule {
		return false
	}
	if a.Secret != "" && a.Secret != f.Secret {
		return false
	}
	if a.Path != "" {
		p := strings.TrimPrefix(a.Path, "/")
		if ok, _ := path.Match(p, f.Path); !ok && !strings.HasPrefix(f.Path, p) {
			return false
		}
	}
	return true
}

// Suppressed counts the findings an allowlist entry or the baseline hid.
type Suppressed struct {
	Rule   string `json:"rule,omitempty"`
	Path   string `json:"path,omitempty"`
	Secret string `json:"secret,omitempty"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Fingerprint identifies a finding across builds: its kind, rule, sealed
// name, place and encoding, not its layer digest or offset, and never its
// value. A baseline is a list of them.
func (f *Finding) fingerprint() string {
	h := sha256.Sum256([]byte(strings.Join([]string{"sealenv-finding-v1", f.Kind, f.Rule, f.Secret, f.Name, f.Where, f.Path, f.Field, f.Encoding}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// ReadBaseline reads the fingerprints of a JSON report written by
// `sealenv audit --format json`: findings that were accepted once.
func ReadBaseline(r io.Reader) (map[string]bool, error) {
	var rep struct {
		Findings []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("baseline: not a sealenv audit JSON report: %w", err)
	}
	out := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Fingerprint != "" {
			out[f.Fingerprint] = true
		}
	}
	return out, nil
}

// filter sets fingerprints and drops allowed and baselined findings.
func (r *Report) filter(o *Options) {
	kept := r.Findings[:0]
	counts := make([]int, len(o.Allow))
	base := 0
	for _, f := range r.Findings {
		f.Fingerprint = f.fingerprint()
		drop := false
		for i := range o.Allow {
			if o.Allow[i].matches(&f) {
				counts[i]++
				drop = true
				break
			}
		}
		if !drop && o.Baseline[f.Fingerprint] {
			base++
			drop = true
		}
		if !drop {
			kept = append(kept, f)
		}
	}
	r.Findings = kept
	for i, a := range o.Allow {
		if counts[i] > 0 {
			r.Suppressed = append(r.Suppressed, Suppressed{Rule: a.Rule, Path: a.Path, Secret: a.Secret, Reason: a.Reason, Count: counts[i]})
		}
	}
	if base > 0 {
		r.Suppressed = append(r.Suppressed, Suppressed{Reason: "baseline: " + o.BaselineReason, Count: base})
	}
}
