package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/sealenv/sealenv/audit/rules"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one line per finding and a coverage summary.
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Findings {
		loc := f.Where
		switch {
		case f.Where == whereLayer:
			loc = fmt.Sprintf("layer %d (%s) %s", *f.LayerIndex, shortDigest(f.LayerDigest), f.Path)
			if f.Part != "" && f.Part != partData {
				loc += " [" + f.Part + "]"
			}
			switch {
			case f.Offset != nil:
				loc += fmt.Sprintf(" @%d", *f.Offset)
			case f.StreamOffset != nil:
				loc += fmt.Sprintf(" @stream:%d", *f.StreamOffset)
			}
			if f.DeletedInLayer != nil {
				loc += fmt.Sprintf(" [deleted in layer %d, still in the image]", *f.DeletedInLayer)
			}
		case f.Where == whereDockerfile:
			loc = fmt.Sprintf("%s:%d", f.Path, f.Line)
		case f.Field != "":
			loc = f.Where + " " + f.Field
			if strings.HasSuffix(f.Field, "(as stored)") && f.Offset != nil {
				loc += fmt.Sprintf(" @%d", *f.Offset)
			}
		}
		what := f.Rule
		if f.Secret != "" {
			what += " " + f.Secret
		}
		if f.Encoding != "" && f.Encoding != "raw" {
			what += " (" + f.Encoding + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(f.Severity), f.Kind, what, loc, f.Preview)
	}
	c := r.Coverage
	state := "complete"
	if !c.Complete {
		state = "INCOMPLETE"
	}
	fmt.Fprintf(w, "%d findings; %s: %d images, %d layers, %d files, %d bytes, %d attestations; %d sealed values searched (min %d bytes, %d skipped); rules %s at %s and above\n",
		len(r.Findings), state, c.Images, c.Layers, c.Files, c.Bytes, c.Attestations, c.KnownValues, c.MinValueLen, len(c.ShortValues), c.RuleSet, c.Severity)
	for _, e := range c.Errors {
		fmt.Fprintf(w, "not searched: %s\n", e)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, s := range r.Suppressed {
		fmt.Fprintf(w, "suppressed %d: %s\n", s.Count, s.Reason)
	}
	for _, p := range r.Provenance {
		fmt.Fprintf(w, "provenance %s (%s) mode=%s build args: %s; secrets: %s\n", p.Image, p.PredicateType, p.Mode, strings.Join(p.BuildArgs, ","), strings.Join(p.Secrets, ","))
	}
	return nil
}

func shortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// WriteSARIF writes the report as SARIF 2.1.0, as code-scanning uploads
// accept it: every result has a rule, a level, a message, a location and
// a fingerprint.
func (r *Report) WriteSARIF(w io.Writer, rs *rules.Set) error {
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string            `json:"id"`
		Name             string            `json:"name,omitempty"`
		ShortDescription msg               `json:"shortDescription"`
		Help             msg               `json:"help"`
		DefaultConfig    map[string]string `json:"defaultConfiguration"`
		Properties       map[string]any    `json:"properties,omitempty"`
	}
	type region struct {
		StartLine int `json:"startLine,omitempty"`
	}
	type physical struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *region `json:"region,omitempty"`
	}
	type logical struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind,omitempty"`
	}
	type location struct {
		PhysicalLocation physical  `json:"physicalLocation"`
		LogicalLocations []logical `json:"logicalLocations,omitempty"`
	}
	type result struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             msg               `json:"message"`
		Locations           []location        `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          map[string]any    `json:"properties,omitempty"`
	}
	level := map[string]string{"high": "error", "medium": "warning", "low": "note"}
	desc := map[string]string{
		"sealed-value":      "a sealed secret value in plaintext",
		"secret-variable":   "a secret-named variable with a value baked into the image",
		"secret-build-arg":  "a secret passed as a build argument, recorded in the image",
		"plaintext-bundle":  "a secrets file without SOPS metadata",
		"secret-arg":        "a secret-named ARG in a Dockerfile",
		"secret-env":        "a secret-named ENV in a Dockerfile",
		"copy-secret-file":  "a plaintext secrets file copied into the image",
		"secret-in-history": "a secret in the build history",
	}
	sev := map[string]string{}
	if rs != nil {
		for _, rr := range rs.Rules {
			desc[rr.ID] = rr.Description
			sev[rr.ID] = rr.Severity.String()
		}
	}
	ruleIdx := map[string]int{}
	var ruleList []rule
	var ids []string
	for _, f := range r.Findings {
		if _, ok := ruleIdx[f.Rule]; !ok {
			ruleIdx[f.Rule] = -1
			ids = append(ids, f.Rule)
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		ruleIdx[id] = i
		d := desc[id]
		if d == "" {
			d = id
		}
		s := sev[id]
		if s == "" {
			s = "high"
		}
		ruleList = append(ruleList, rule{ID: id, Name: id, ShortDescription: msg{d}, Help: msg{d + ". See docs/audit.md."},
			DefaultConfig: map[string]string{"level": level[s]},
			Properties:    map[string]any{"tags": []string{"security", "secret"}, "security-severity": map[string]string{"high": "9.0", "medium": "6.0", "low": "3.0"}[s]}})
	}
	results := []result{}
	for _, f := range r.Findings {
		var loc location
		uri := (&url.URL{Path: f.Path}).EscapedPath()
		var reg *region
		switch f.Where {
		case whereLayer:
			// The file in the image; code scanning wants lines, which a
			// layer file has not, so the offset goes in the message.
			outer, _, _ := strings.Cut(strings.TrimPrefix(f.Path, "/"), "!/")
			uri = (&url.URL{Path: outer}).EscapedPath()
		case whereDockerfile:
			if f.Line > 0 {
				reg = &region{StartLine: f.Line}
			}
		default:
			uri = "image/" + f.Where
		}
		if uri == "" {
			uri = "image"
		}
		loc.PhysicalLocation.ArtifactLocation.URI = uri
		loc.PhysicalLocation.Region = reg
		fq := f.Image
		if f.LayerDigest != "" {
			fq += "/" + f.LayerDigest
		}
		if f.Path != "" {
			fq += "/" + f.Path
		}
		if f.Field != "" {
			fq += "/" + f.Field
		}
		loc.LogicalLocations = []logical{{FullyQualifiedName: strings.TrimPrefix(fq, "/"), Kind: "member"}}
		fp := sha256.Sum256([]byte(strings.Join([]string{f.Kind, f.Rule, f.Secret, f.Where, f.LayerDigest, f.Path, f.Field, f.Encoding}, "\x00")))
		text := f.Message
		if f.Where == whereLayer {
			text += " in layer " + fmt.Sprint(*f.LayerIndex) + " at " + f.Path
			if f.Offset != nil {
				text += fmt.Sprintf(" (byte %d)", *f.Offset)
			}
		} else if f.Field != "" {
			text += " in " + f.Where + " " + f.Field
		}
		if f.Preview != "" {
			text += " [" + f.Preview + "]"
		}
		if f.DeletedInLayer != nil && !strings.Contains(text, "deleted") {
			text += fmt.Sprintf(" (deleted in layer %d)", *f.DeletedInLayer)
		}
		results = append(results, result{
			RuleID: f.Rule, RuleIndex: ruleIdx[f.Rule], Level: level[f.Severity], Message: msg{text},
			Locations:           []location{loc},
			PartialFingerprints: map[string]string{"sealenvFinding/v1": hex.EncodeToString(fp[:16])},
			Properties:          map[string]any{"kind": f.Kind, "where": f.Where},
		})
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "sealenv", "informationUri": "https://github.com/sealenv/sealenv",
				"semanticVersion": strings.TrimPrefix(r.Version, "v"), "rules": nonNil(ruleList),
			}},
			"results":    results,
			"properties": map[string]any{"coverage": r.Coverage, "source": r.Source},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
