package policies

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sealenv/sealenv/internal/sarif"
)

// Report is the result of [Policy.Check], ready to be written.
type Report struct {
	Policy     string      `json:"policy"`
	Values     bool        `json:"values_checked"` // an identity opened the bundles
	Violations []Violation `json:"violations"`
	// Version names the tool in SARIF.
	Version string `json:"-"`

	environments int
}

// Report collects violations of p; values says whether an identity opened
// the bundles (without one, values are not checked); env is the one
// environment checked ([CheckOptions].Env), or "" for all of them.
func (p *Policy) Report(vs []Violation, values bool, env string) *Report {
	if vs == nil {
		vs = []Violation{}
	}
	n := len(p.Environments)
	if env != "" {
		n = 1
	}
	return &Report{Policy: p.Path, Values: values, Violations: vs, environments: n}
}

// Failed reports whether any violation is an error (exit 1).
func (r *Report) Failed() bool {
	for _, v := range r.Violations {
		if v.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Write writes the report as text, json or sarif, like the audit's.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "sarif":
		log := sarif.New("sealenv check", r.Version, "https://github.com/sealenv/sealenv")
		for _, v := range r.Violations {
			log.AddRule(sarif.Rule{ID: v.Rule, ShortDescription: &sarif.Message{Text: v.Rule}})
			log.Add(sarif.Result{RuleID: v.Rule, Level: string(v.Severity), Message: sarif.Message{Text: v.Message},
				Locations: []sarif.Location{sarif.FileLocation(v.Bundle, v.Line)}})
		}
		return log.Write(w)
	case "text", "":
	default:
		return fmt.Errorf("unknown report format %q (want text, json or sarif)", format)
	}
	errs, warns, notes := 0, 0, 0
	for _, v := range r.Violations {
		loc := v.Bundle
		if v.Line > 0 {
			loc = fmt.Sprintf("%s:%d", v.Bundle, v.Line)
		}
		if v.Env == "" { // about the repository, not one environment
			fmt.Fprintf(w, "%s: %s %s: %s\n", loc, v.Severity, v.Rule, v.Message)
		} else {
			fmt.Fprintf(w, "%s: %s [%s] %s: %s\n", loc, v.Severity, v.Env, v.Rule, v.Message)
		}
		switch v.Severity {
		case SeverityError:
			errs++
		case SeverityWarning:
			warns++
		default:
			notes++
		}
	}
	note := " (values not checked: no identity)"
	if r.Values {
		note = ""
	}
	if notes > 0 {
		note = ", " + count(notes, "note") + note
	}
	_, err := fmt.Fprintf(w, "%s, %s, %s%s\n", count(r.environments, "environment"), count(errs, "error"), count(warns, "warning"), note)
	return err
}

// count is "1 error", "2 errors".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
