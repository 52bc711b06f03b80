package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// The SARIF log has what the 2.1.0 schema and code-scanning uploads
// require of every result. (Checked once against the OASIS schema itself
// with a JSON Schema validator; see docs/audit.md.)
func TestSARIF(t *testing.T) {
	t.Parallel()
	p := plant(t)
	r, err := imageAt(context.Background(), "oci:"+writeLayout(t, p.index), Options{Values: p.values, ShortAccepted: p.short})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteSARIF(&buf); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						ShortDescription struct{ Text string }
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           *struct{ StartLine int }
					}
				}
				PartialFingerprints map[string]string
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-2.1.0") || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "sealenv" {
		t.Fatalf("header: %s", buf.String()[:200])
	}
	run := log.Runs[0]
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(r.Findings))
	}
	for _, res := range run.Results {
		if res.RuleIndex < 0 || res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("rule index of %s", res.RuleID)
		}
		if res.Level != "error" && res.Level != "warning" && res.Level != "note" {
			t.Errorf("level %q", res.Level)
		}
		if res.Message.Text == "" || len(res.Locations) != 1 || len(res.PartialFingerprints) == 0 {
			t.Errorf("result %+v", res)
		}
		u, err := url.Parse(res.Locations[0].PhysicalLocation.ArtifactLocation.URI)
		if err != nil || u.IsAbs() || u.Path == "" {
			t.Errorf("uri %q", res.Locations[0].PhysicalLocation.ArtifactLocation.URI)
		}
		if rg := res.Locations[0].PhysicalLocation.Region; rg != nil && rg.StartLine < 1 {
			t.Errorf("region %+v", rg)
		}
	}
	for _, rl := range run.Tool.Driver.Rules {
		if rl.ShortDescription.Text == "" {
			t.Errorf("rule %s has no description", rl.ID)
		}
	}
}
