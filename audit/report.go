package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sealenv/sealenv/internal/sarif"
)

// WriteJSON writes the report as indented JSON. Like every writer, it
// first masks every string of the report with the audit's detectors (see
// docs/audit.md, "Nothing printed reveals a secret").
func (r *Report) WriteJSON(w io.Writer) error {
	r.redact()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one line per finding and a coverage summary.
func (r *Report) WriteText(w io.Writer) error {
	r.redact()
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
			if f.Name != "" {
				loc += " " + f.Name
			}
		case f.Where == whereFile:
			loc = f.Path
			if f.Line > 0 {
				loc = fmt.Sprintf("%s:%d", f.Path, f.Line)
			}
			if f.Part != "" && f.Part != partData {
				loc += " [" + f.Part + "]"
			}
		case f.Field != "":
			loc = f.Where + " " + f.Field
			if strings.HasSuffix(f.Field, "(as stored)") && f.Offset != nil {
				loc += fmt.Sprintf(" @%d", *f.Offset)
			}
		}
		what := f.Rule
		switch {
		case f.Secret != "":
			what += " " + f.Secret
		case f.Kind == kindPlain && f.Name != "":
			what += " " + f.Name // the key of a credentials file
		}
		if f.Encoding != "" && f.Encoding != "raw" {
			what += " (" + f.Encoding + ")"
		}
		last := f.Preview
		if f.Where == whereDockerfile {
			// The lint's message says what to do instead (the JSON has it too).
			last = strings.TrimSpace(f.Preview + " " + f.Message)
		}
		if f.Source != "" && len(r.Images) > 1 {
			loc = f.Source + " " + loc
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(f.Severity), f.Kind, what, loc, last)
	}
	for _, ir := range r.Images {
		fmt.Fprintf(w, "image %s: %s (%d findings, %d layers", ir.Source, ir.Status, ir.Findings, ir.Coverage.Layers)
		if n := ir.Coverage.CachedLayers + ir.Coverage.ReusedLayers; n > 0 {
			fmt.Fprintf(w, ", %d not searched again", n)
		}
		fmt.Fprintln(w, ")")
	}
	c := r.Coverage
	state := "complete"
	if !c.Complete {
		state = "INCOMPLETE"
	}
	values := fmt.Sprintf("%d sealed values searched (min %d bytes, %d too short", c.KnownValues, c.MinValueLen, len(c.ShortValues))
	if len(c.ShortAccepted) > 0 {
		values += fmt.Sprintf(", %d of them accepted: %s", len(c.ShortAccepted), strings.Join(c.ShortAccepted, ", "))
	}
	values += ")"
	if c.FingerprintValues > 0 {
		values += fmt.Sprintf(", %d by fingerprint", c.FingerprintValues)
	}
	if c.Images == 0 && c.Layers == 0 {
		// Files (sealenv scan) or a Dockerfile: no image in it.
		fmt.Fprintf(w, "%d findings; %s: %d files, %d bytes; %s; rules %s at %s and above\n",
			len(r.Findings), state, c.Files, c.Bytes, values, c.RuleSet, c.Severity)
	} else {
		layers := fmt.Sprintf("%d layers", c.Layers)
		if c.CachedLayers > 0 {
			layers += fmt.Sprintf(" (%d from the verdict cache)", c.CachedLayers)
		}
		if c.ReusedLayers > 0 {
			layers += fmt.Sprintf(" (%d shared with another image, searched once)", c.ReusedLayers)
		}
		fmt.Fprintf(w, "%d findings; %s: %d images, %s, %d files, %d bytes, %d attestations; %s; rules %s at %s and above\n",
			len(r.Findings), state, c.Images, layers, c.Files, c.Bytes, c.Attestations, values, c.RuleSet, c.Severity)
	}
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
func (r *Report) WriteSARIF(w io.Writer) error {
	r.redact()
	log := sarif.New("sealenv", r.Version, "https://github.com/sealenv/sealenv")
	log.Runs[0].Tool.Driver.SemanticVersion = strings.TrimPrefix(r.Version, "v")
	desc := map[string]string{
		"sealed-value":           "a sealed secret value in plaintext",
		"secret-variable":        "a secret-named variable with a value baked into the image",
		"secret-build-arg":       "a secret passed as a build argument, recorded in the image",
		"plaintext-bundle":       "a secrets file without SOPS metadata",
		"plaintext-value":        "a sealed bundle with a value typed in plaintext",
		"credentials-file":       "a tool's credentials file (registry login, cluster access, cloud CLI, package manager, git) with a plaintext credential",
		"kubernetes-secret":      "a Kubernetes Secret with its data in plaintext",
		"infrastructure-secret":  "an infrastructure state or variables file (Terraform, Pulumi) with a plaintext secret",
		"unsealed-policy-bundle": "a bundle of the policy that is not sealed",
		"secret-arg":             "a secret-named ARG in a Dockerfile",
		"secret-env":             "a secret-named ENV in a Dockerfile",
		"copy-secret-file":       "a plaintext secrets file copied into the image",
		"secret-in-history":      "a secret in the build history",
	}
	sev := map[string]string{}
	if r.rules != nil {
		for _, rr := range r.rules.Rules {
			desc[rr.ID] = rr.Description
			sev[rr.ID] = rr.Severity.String()
		}
	}
	var ids []string
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			ids = append(ids, f.Rule)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		d := desc[id]
		if d == "" {
			d = id
		}
		s := sev[id]
		if s == "" {
			s = "high"
		}
		log.AddRule(sarif.Rule{ID: id, Name: id, ShortDescription: &sarif.Message{Text: d}, Help: &sarif.Message{Text: d + ". See docs/audit.md."},
			DefaultConfiguration: &sarif.Configuration{Level: sarif.LevelOf(s)},
			Properties:           map[string]any{"tags": []string{"security", "secret"}, "security-severity": sarif.SecuritySeverity(s)}})
	}
	for _, f := range r.Findings {
		var loc sarif.Location
		switch f.Where {
		case whereLayer:
			// The file in the image; code scanning wants lines, which a
			// layer file has not, so the offset goes in the message.
			outer, _, _ := strings.Cut(strings.TrimPrefix(f.Path, "/"), "!/")
			if outer == "" {
				outer = "image/layer"
			}
			loc = sarif.FileLocation(outer, 0)
		case whereDockerfile, whereFile:
			outer, _, _ := strings.Cut(f.Path, "!/")
			loc = sarif.FileLocation(outer, f.Line)
		default:
			loc = sarif.FileLocation("image/"+f.Where, 0)
		}
		fq := f.Image
		if f.Source != "" {
			fq = f.Source + "/" + fq
		}
		if f.LayerDigest != "" {
			fq += "/" + f.LayerDigest
		}
		if f.Path != "" {
			fq += "/" + f.Path
		}
		if f.Field != "" {
			fq += "/" + f.Field
		}
		if fq = strings.TrimPrefix(fq, "/"); fq != "" {
			loc.LogicalLocations = []sarif.LogicalLocation{{FullyQualifiedName: fq, Kind: "member"}}
		}
		text := f.Message
		switch {
		case f.Where == whereLayer:
			text += " in layer " + fmt.Sprint(*f.LayerIndex) + " at " + f.Path
			if f.Part != "" && f.Part != partData {
				text += " (" + f.Part + ")"
			}
			if f.Offset != nil {
				text += fmt.Sprintf(" (byte %d)", *f.Offset)
			}
		case f.Field != "":
			text += " in " + f.Where + " " + f.Field
		}
		if f.Preview != "" {
			text += " [" + f.Preview + "]"
		}
		if f.DeletedInLayer != nil && !strings.Contains(text, "deleted") {
			text += fmt.Sprintf(" (deleted in layer %d)", *f.DeletedInLayer)
		}
		fp := f.Fingerprint
		if fp == "" {
			fp = f.fingerprint()
		}
		log.Add(sarif.Result{
			RuleID: f.Rule, Level: sarif.LevelOf(f.Severity), Message: sarif.Message{Text: text},
			Locations:           []sarif.Location{loc},
			PartialFingerprints: map[string]string{"sealenvFinding/v1": fp},
			Properties:          props(f),
		})
	}
	log.Runs[0].Properties = map[string]any{"coverage": r.Coverage, "source": r.Source}
	if len(r.Images) > 0 {
		log.Runs[0].Properties["images"] = r.Images
	}
	return log.Write(w)
}

// props are a SARIF result's properties: the finding's kind and place,
// and its image in a report of many.
func props(f Finding) map[string]any {
	p := map[string]any{"kind": f.Kind, "where": f.Where}
	if f.Source != "" {
		p["source"] = f.Source
	}
	return p
}

// Formats a report is written in.
var Formats = []string{"text", "json", "sarif"}

// Write writes the report as text, json or sarif.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		return r.WriteJSON(w)
	case "sarif":
		return r.WriteSARIF(w)
	case "text", "":
		return r.WriteText(w)
	}
	return fmt.Errorf("unknown report format %q (want text, json or sarif)", format)
}
