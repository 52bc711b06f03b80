package policies

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (review the diff)")

// TestReportGolden: check's report in each format, one golden file each:
// errors, warnings and notes, with and without a line, in two
// environments. go test ./policies -update rewrites them.
func TestReportGolden(t *testing.T) {
	r := &Report{Policy: "sealenv.yaml", Version: "1.2.3", environments: 2, Violations: []Violation{
		{Env: "prod", Bundle: "secrets/prod.env", Rule: RuleRecipientRemoved, Severity: SeverityError,
			Message: "bundle is still wrapped to age1bob…0000, which the policy does not list: run sealenv rekey --env prod, then renew every value it could read"},
		{Env: "prod", Bundle: "secrets/prod.env", Key: "API_TOKEN", Line: 2, Rule: RuleMaxAge, Severity: SeverityError,
			Message: "API_TOKEN is 40d old, older than max_age 30d: sealenv rotate secrets/prod.env API_TOKEN"},
		{Env: "prod", Bundle: "secrets/prod.env", Key: "DB_URL", Line: 3, Rule: RuleExpiring, Severity: SeverityWarning,
			Message: "DB_URL reaches max_age 30d in 5d: renew it soon: sealenv rotate --stdin secrets/prod.env DB_URL (the policy has no generator for DB_URL: give the new value)"},
		{Env: "staging", Bundle: "secrets/staging.env", Key: "FLAG", Line: 1, Rule: RuleChangedOutside, Severity: SeverityNote,
			Message: "FLAG added by another tool (the file's last change: 2026-05-29T12:00:00Z); sealenv adopt secrets/staging.env or any sealenv write records it"},
	}}
	for _, format := range []string{"text", "json", "sarif"} {
		var out bytes.Buffer
		if err := r.Write(&out, format); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "report", "check."+format)
		if *update {
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./policies -update writes it)", err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s differs (go test ./policies -update rewrites it; review the diff):\n%s", path, out.Bytes())
		}
	}
	if !r.Failed() {
		t.Error("a report with errors did not fail")
	}
}
