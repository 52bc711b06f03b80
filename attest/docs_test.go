package attest

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The admission policies of docs/attest.md, checked without a cluster: each
// YAML block parses; the Kyverno ClusterPolicies and the policy-controller
// ClusterImagePolicies have the fields their CRDs require, name sealenv's
// predicate type, and trust a key (with the transparency log ignored, as a
// key-based attestation is not in it) or a CI identity; and the Kyverno
// conditions, evaluated here on real predicates, admit a clean verdict and
// refuse the others. (The CUE policy runs in the real cosign, in
// e2e/attest_test.go.)
func TestDocumentedPolicies(t *testing.T) {
	doc, err := os.ReadFile("../docs/attest.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	var kyverno, cip, keyless int
	for _, b := range blocks {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(b[1]), &head); err != nil {
			t.Fatalf("a YAML block does not parse: %v\n%s", err, b[1])
		}
		switch head.Kind {
		case "ClusterPolicy":
			keyless += checkKyverno(t, b[1])
			kyverno++
		case "ClusterImagePolicy":
			keyless += checkCIP(t, b[1])
			cip++
		}
	}
	if kyverno != 2 || cip != 2 || keyless != 2 {
		t.Fatalf("%d Kyverno policies, %d ClusterImagePolicies, %d keyless: want 2, 2 and 2", kyverno, cip, keyless)
	}
}

type kyvernoPolicy struct {
	APIVersion string `yaml:"apiVersion"`
	Spec       struct {
		ValidationFailureAction string `yaml:"validationFailureAction"`
		Rules                   []struct {
			Name  string
			Match struct {
				Any []struct {
					Resources struct{ Kinds []string }
				}
			}
			VerifyImages []struct {
				ImageReferences []string `yaml:"imageReferences"`
				Attestations    []struct {
					Type      string
					Attestors []struct {
						Entries []struct {
							Keys *struct {
								PublicKeys string `yaml:"publicKeys"`
								Rekor      *struct {
									URL        string
									IgnoreTlog bool `yaml:"ignoreTlog"`
								}
								CTLog *struct {
									IgnoreSCT bool `yaml:"ignoreSCT"`
								}
							}
							Keyless *struct {
								Issuer, Subject string
								Rekor           *struct{ URL string }
							}
						}
					}
					Conditions []struct {
						All []condition
					}
				}
			} `yaml:"verifyImages"`
		}
	}
}

type condition struct {
	Key      string
	Operator string
	Value    any
}

var pemShape = regexp.MustCompile(`(?s)^-----BEGIN PUBLIC KEY-----\n.+\n-----END PUBLIC KEY-----\n?$`)

// checkKyverno checks a ClusterPolicy and returns 1 for a keyless one.
func checkKyverno(t *testing.T, text string) int {
	t.Helper()
	var p kyvernoPolicy
	if err := yaml.Unmarshal([]byte(text), &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "kyverno.io/v1" || p.Spec.ValidationFailureAction != "Enforce" || len(p.Spec.Rules) != 1 {
		t.Fatalf("Kyverno policy: %+v", p)
	}
	r := p.Spec.Rules[0]
	if r.Name == "" || len(r.Match.Any) == 0 || len(r.Match.Any[0].Resources.Kinds) == 0 || len(r.VerifyImages) != 1 {
		t.Fatalf("Kyverno rule: %+v", r)
	}
	vi := r.VerifyImages[0]
	if len(vi.ImageReferences) == 0 || len(vi.Attestations) != 1 {
		t.Fatalf("Kyverno verifyImages: %+v", vi)
	}
	a := vi.Attestations[0]
	if a.Type != PredicateType || len(a.Attestors) != 1 || len(a.Attestors[0].Entries) != 1 || len(a.Conditions) != 1 {
		t.Fatalf("Kyverno attestation: %+v", a)
	}
	e := a.Attestors[0].Entries[0]
	isKeyless := 0
	switch {
	case e.Keys != nil && e.Keyless == nil:
		if !pemShape.MatchString(e.Keys.PublicKeys) {
			t.Errorf("Kyverno key: %q is not a PEM public key", e.Keys.PublicKeys)
		}
		// The CRD requires rekor.url; a key-based verdict is not in the log.
		if e.Keys.Rekor == nil || e.Keys.Rekor.URL == "" || !e.Keys.Rekor.IgnoreTlog || e.Keys.CTLog == nil || !e.Keys.CTLog.IgnoreSCT {
			t.Errorf("Kyverno key attestor: %+v", e.Keys)
		}
	case e.Keyless != nil && e.Keys == nil:
		if e.Keyless.Issuer == "" || e.Keyless.Subject == "" || e.Keyless.Rekor == nil || e.Keyless.Rekor.URL == "" {
			t.Errorf("Kyverno keyless attestor: %+v", e.Keyless)
		}
		isKeyless = 1
	default:
		t.Errorf("Kyverno attestor entry needs exactly one of keys and keyless: %+v", e)
	}
	checkConditions(t, a.Conditions[0].All)
	return isKeyless
}

// checkConditions evaluates Kyverno conditions ({{ path }} on the
// predicate; Equals, AnyIn) on a clean verdict, which must pass, and on
// verdicts each of which must fail.
func checkConditions(t *testing.T, conds []condition) {
	t.Helper()
	marker := "mk-0123456789"
	at := time.Now()
	clean := NewPredicate(report(marker, true), "v1", at)
	low := NewPredicate(report(marker, true), "v1", at)
	low.Severity = "low"
	high := NewPredicate(report(marker, true), "v1", at)
	high.Severity = "high"
	cases := map[string]struct {
		p    Predicate
		pass bool
	}{
		"clean":         {clean, true},
		"clean at low":  {low, true},
		"findings":      {NewPredicate(report(marker, true, "medium"), "v1", at), false},
		"low finding":   {NewPredicate(report(marker, true, "low"), "v1", at), false},
		"incomplete":    {NewPredicate(report(marker, false), "v1", at), false},
		"only high":     {high, false},
		"unknown finds": {NewPredicate(report(marker, true, "critical"), "v1", at), false},
	}
	for name, tc := range cases {
		b, _ := json.Marshal(tc.p)
		var doc map[string]any
		json.Unmarshal(b, &doc)
		pass := true
		for _, c := range conds {
			ok, err := evalCondition(doc, c)
			if err != nil {
				t.Fatalf("Kyverno condition %+v: %v", c, err)
			}
			pass = pass && ok
		}
		if pass != tc.pass {
			t.Errorf("Kyverno conditions on the %s predicate: admitted %v, want %v", name, pass, tc.pass)
		}
	}
}

var variable = regexp.MustCompile(`^\{\{\s*([a-z_]+(?:\.[a-z_]+)*)\s*\}\}$`)

func evalCondition(doc map[string]any, c condition) (bool, error) {
	m := variable.FindStringSubmatch(c.Key)
	if m == nil {
		return false, fmt.Errorf("key %q is not a plain {{ path }}", c.Key)
	}
	var v any = doc
	for _, part := range strings.Split(m[1], ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return false, fmt.Errorf("%s: not an object", m[1])
		}
		if v, ok = obj[part]; !ok {
			return false, fmt.Errorf("the predicate has no %s", m[1])
		}
	}
	norm := func(x any) string { return fmt.Sprint(x) }
	switch c.Operator {
	case "Equals":
		return norm(v) == norm(c.Value), nil
	case "AnyIn":
		list, ok := c.Value.([]any)
		if !ok {
			return false, fmt.Errorf("AnyIn needs a list, not %T", c.Value)
		}
		for _, x := range list {
			if norm(x) == norm(v) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("operator %q is not one this test evaluates", c.Operator)
}

type clusterImagePolicy struct {
	APIVersion string `yaml:"apiVersion"`
	Spec       struct {
		Images      []struct{ Glob string }
		Authorities []struct {
			Name string
			Key  *struct{ Data string }
			// Keyless authorities name the identities their signatures
			// must come from.
			Keyless *struct {
				URL        string
				Identities []struct {
					Issuer        string
					SubjectRegExp string `yaml:"subjectRegExp"`
				}
			}
			CTLog *struct {
				URL string
			} `yaml:"ctlog"`
			Attestations []struct {
				Name          string
				PredicateType string `yaml:"predicateType"`
				Policy        struct{ Type, Data string }
			}
		}
	}
}

// checkCIP checks a ClusterImagePolicy and returns 1 for a keyless one.
func checkCIP(t *testing.T, text string) int {
	t.Helper()
	var p clusterImagePolicy
	if err := yaml.Unmarshal([]byte(text), &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "policy.sigstore.dev/v1beta1" || len(p.Spec.Images) == 0 || p.Spec.Images[0].Glob == "" || len(p.Spec.Authorities) != 1 {
		t.Fatalf("ClusterImagePolicy: %+v", p)
	}
	a := p.Spec.Authorities[0]
	isKeyless := 0
	switch {
	case a.Key != nil && a.Keyless == nil:
		if !pemShape.MatchString(a.Key.Data) {
			t.Errorf("ClusterImagePolicy key: %q is not a PEM public key", a.Key.Data)
		}
		if a.CTLog != nil {
			t.Errorf("a key authority with ctlog would require a transparency log entry the key-based verdict does not have")
		}
	case a.Keyless != nil && a.Key == nil:
		if a.Keyless.URL == "" || len(a.Keyless.Identities) == 0 || a.CTLog == nil || a.CTLog.URL == "" {
			t.Errorf("ClusterImagePolicy keyless authority: %+v", a)
		}
		for _, id := range a.Keyless.Identities {
			if _, err := regexp.Compile(id.SubjectRegExp); err != nil || id.Issuer == "" || id.SubjectRegExp == "" {
				t.Errorf("identity %+v: %v", id, err)
			}
		}
		isKeyless = 1
	default:
		t.Errorf("ClusterImagePolicy authority needs exactly one of key and keyless: %+v", a)
	}
	if a.Name == "" || len(a.Attestations) != 1 {
		t.Fatalf("ClusterImagePolicy authority: %+v", a)
	}
	at := a.Attestations[0]
	if at.Name == "" || at.PredicateType != PredicateType || at.Policy.Type != "cue" {
		t.Errorf("ClusterImagePolicy attestation: %+v", at)
	}
	for _, want := range []string{`predicateType: "` + PredicateType + `"`, "complete: true", "findings: total: 0", "coverage: not_searched: 0", `verdict: "clean"`} {
		if !strings.Contains(at.Policy.Data, want) {
			t.Errorf("the CUE policy lacks %q", want)
		}
	}
	return isKeyless
}
