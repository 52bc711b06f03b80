package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/policies"
)

// UsePolicy applies the audit section of a policy file to o: its custom
// rules (compiled when the policy was loaded) join o.Rules, its allowlist
// and its baseline (a JSON report of accepted findings, read relative to
// the policy) suppress findings.
func (o *Options) UsePolicy(pol *policies.Policy) error {
	if len(pol.Audit.Rules) > 0 {
		if o.Rules == nil {
			o.Rules = rules.Default()
		}
		more := &rules.Set{Version: "policy"}
		for i, cr := range pol.Audit.Rules {
			kw := cr.Keywords
			if len(kw) == 0 {
				if p, _ := cr.Compiled.LiteralPrefix(); len(p) >= 3 {
					kw = []string{p}
				}
			}
			r, err := rules.Spec{ID: cr.ID, Description: cr.Description, Severity: "high", Keywords: kw, Regex: cr.Regex, Compiled: cr.Compiled, Entropy: cr.Entropy}.Compile()
			if err != nil {
				return fmt.Errorf("%s: audit.rules[%d]: %s: %v (the audit needs keywords of 3 or more bytes, or a regex with a literal prefix)", pol.Path, i, cr.ID, err)
			}
			more.Rules = append(more.Rules, r)
		}
		o.Rules = o.Rules.Merge(more)
	}
	o.Allow = append(o.Allow, pol.Audit.Allowlist...)
	if b := pol.Audit.Baseline; b != nil {
		p := b.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(pol.Root, filepath.FromSlash(p))
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%s: audit.baseline: %w", pol.Path, err)
		}
		defer f.Close()
		if o.Baseline, err = ReadBaseline(f); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		o.BaselineReason = b.Reason
	}
	return nil
}

// Allow suppresses the findings that match every field it sets (a rule id;
// a glob, path.Match, or a plain prefix of the finding's path; a sealed key
// name). Reason is required and is printed in the report. It is the policy
// file's allowlist entry.
type Allow = policies.Allow

func matches(a *Allow, f *Finding) bool {
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
			if matches(&o.Allow[i], &f) {
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
