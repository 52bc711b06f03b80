package attest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/audit/rules"
)

// report is an audit report with findings of the given severities; every
// string of a finding holds marker, which no statement may carry.
func report(marker string, complete bool, severities ...string) *audit.Report {
	r := &audit.Report{Tool: "sealenv", Findings: []audit.Finding{}}
	r.Coverage = audit.Coverage{Images: 1, Layers: 3, Files: 10, Bytes: 4096, Complete: complete, Attestations: 1,
		KnownValues: 2, ShortValues: []string{"PIN_" + marker}, MinValueLen: 8, RuleSet: "2026.11.1", Severity: "medium"}
	if !complete {
		r.Coverage.Errors = []string{"layer 1: " + marker}
	}
	for _, s := range severities {
		r.Findings = append(r.Findings, audit.Finding{Kind: "known-value", Rule: "sealed-value", Severity: s, Secret: "KEY_" + marker,
			Path: "srv/" + marker, Preview: marker[:4] + "****", Message: marker, Field: marker, Fingerprint: marker})
	}
	r.Suppressed = []audit.Suppressed{{Rule: "jwt", Reason: "vendored " + marker, Count: 2}}
	return r
}

func TestNewPredicate(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 11, 12, 500, time.FixedZone("x", 3600))
	marker := "mk-planted-0123456789"
	for _, tc := range []struct {
		name     string
		r        *audit.Report
		verdict  string
		counts   Counts
		clean    bool
		notSrchd int
	}{
		{"clean", report(marker, true), VerdictClean, Counts{}, true, 0},
		{"findings", report(marker, true, "high", "medium", "medium", "low", "critical"), VerdictFindings, Counts{Total: 5, High: 1, Medium: 2, Low: 1}, false, 0},
		{"incomplete", report(marker, false, "high"), VerdictIncomplete, Counts{Total: 1, High: 1}, false, 1},
	} {
		p := NewPredicate(tc.r, "v1.2.3", at)
		if p.Verdict != tc.verdict || p.Findings != tc.counts || p.Clean() != tc.clean || p.Coverage.NotSearched != tc.notSrchd {
			t.Errorf("%s: %+v", tc.name, p)
		}
		if !p.Time.Equal(at.Truncate(time.Second)) || p.Time.Location() != time.UTC {
			t.Errorf("%s: time %v", tc.name, p.Time)
		}
		if p.Suppressed != 2 || p.Coverage.ValuesByKey != 2 || p.Coverage.ShortValues != 1 || p.Coverage.RuleSet != "2026.11.1" ||
			p.Scanner.Version != "v1.2.3" || p.Severity != "medium" || p.Coverage.ValuesByFingerprint != 0 {
			t.Errorf("%s: %+v", tc.name, p)
		}
		b, err := NewStatement(Subject{Name: "r/app", Digest: map[string]string{"sha256": "ab"}}, p).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		// Counts and coverage only: no value, preview, path, key name or reason.
		for _, s := range []string{marker, marker[:4], "KEY_", "PIN_", "srv/"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s: the statement holds %q: %s", tc.name, s, b)
			}
		}
	}
}

func TestStatementRoundTrip(t *testing.T) {
	p := NewPredicate(report("mk-0123456789", true, "low"), "v1", time.Now())
	st := NewStatement(Subject{Name: "r/app", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}}, p)
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if generic["_type"] != StatementType || generic["predicateType"] != PredicateType {
		t.Fatalf("statement fields: %v", generic)
	}
	back, err := ParseStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Predicate.Findings != p.Findings || !back.Predicate.Time.Equal(p.Time) || back.Subject[0].digestOf() != "sha256:"+strings.Repeat("a", 64) {
		t.Fatalf("round trip: %+v", back)
	}
	// cosign attest writes in-toto v0.1 around the same predicate.
	v01 := strings.Replace(string(b), StatementType, statementV01, 1)
	if _, err := ParseStatement([]byte(v01)); err != nil {
		t.Errorf("v0.1 statement: %v", err)
	}
}

func TestParseStatementRefuses(t *testing.T) {
	good := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"ab"}}],"predicateType":"https://sealenv.dev/audit/v1",` +
		`"predicate":{"verdict":"clean","complete":true,"severity":"medium","findings":{"total":0,"high":0,"medium":0,"low":0},"coverage":{"not_searched":0,"rule_set":"r"},"time":"2026-12-05T10:00:00Z"}}`
	if _, err := ParseStatement([]byte(good)); err != nil {
		t.Fatalf("the good statement: %v", err)
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"other type":    {"https://sealenv.dev/audit/v1", "https://slsa.dev/provenance/v1", "another predicate type"},
		"not in-toto":   {"https://in-toto.io/Statement/v1", "x", "not an in-toto statement"},
		"no subject":    {`[{"name":"x","digest":{"sha256":"ab"}}]`, "[]", "no subject"},
		"no count":      {`"high":0,`, "", "lacks findings.high"},
		"no complete":   {`"complete":true,`, "", "lacks complete"},
		"no time":       {`,"time":"2026-12-05T10:00:00Z"`, "", "lacks time"},
		"bad severity":  {`"severity":"medium"`, `"severity":"none"`, "unknown severity"},
		"counts differ": {`"total":0,"high":0`, `"total":0,"high":1`, "do not add up"},
		"negative":      {`"not_searched":0`, `"not_searched":-1`, "do not add up"},
		"not json":      {`{"_type"`, `{_type`, "malformed"},
	} {
		_, err := ParseStatement([]byte(strings.Replace(good, tc.from, tc.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if name == "other type" && !errors.Is(err, errOtherType) {
			t.Errorf("another predicate type is not errOtherType: %v", err)
		}
	}
}

func TestJudge(t *testing.T) {
	mk := func(audited string, complete bool, c Counts) *Predicate {
		p := &Predicate{Complete: complete, Severity: audited, Findings: c, Verdict: VerdictClean}
		if !complete {
			p.Coverage.NotSearched, p.Verdict = 1, VerdictIncomplete
		}
		return p
	}
	for _, tc := range []struct {
		p    *Predicate
		at   rules.Severity
		want string // "" passes
	}{
		{mk("medium", true, Counts{}), rules.Medium, ""},
		{mk("medium", true, Counts{}), rules.High, ""},
		{mk("low", true, Counts{}), rules.Low, ""},
		{mk("medium", true, Counts{}), rules.Low, "cannot show there are none at low"},
		{mk("medium", false, Counts{}), rules.Medium, "incomplete"},
		{mk("medium", true, Counts{Total: 1, Medium: 1}), rules.Medium, "1 findings at or above medium"},
		{mk("medium", true, Counts{Total: 1, Medium: 1}), rules.High, ""},
		{mk("low", true, Counts{Total: 2, Low: 2}), rules.Medium, ""},
		{mk("low", true, Counts{Total: 2, Low: 2}), rules.Low, "2 findings at or above low"},
		{mk("medium", true, Counts{Total: 1}), rules.High, "1 findings at or above high"}, // a severity not counted is not below
	} {
		got := judge(tc.p, tc.at)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%+v at %s: %q, want %q", tc.p, tc.at, got, tc.want)
		}
	}
}
