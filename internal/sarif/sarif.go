// Package sarif writes SARIF 2.1.0 logs, the format code-scanning services
// (GitHub, GitLab) ingest. Only the parts sealenv uses are modelled.
package sarif

import (
	"encoding/json"
	"io"
	"net/url"
)

// Schema and Version identify SARIF 2.1.0.
const (
	Schema  = "https://json.schemastore.org/sarif-2.1.0.json"
	Version = "2.1.0"
)

// Log is a SARIF log with one run.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one tool invocation.
type Run struct {
	Tool       Tool           `json:"tool"`
	Results    []Result       `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Tool names the tool and its rules.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool's main component.
type Driver struct {
	Name            string `json:"name"`
	InformationURI  string `json:"informationUri,omitempty"`
	Version         string `json:"version,omitempty"`
	SemanticVersion string `json:"semanticVersion,omitempty"`
	Rules           []Rule `json:"rules"`
}

// Rule describes a rule that results refer to by ID.
type Rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     *Message       `json:"shortDescription,omitempty"`
	Help                 *Message       `json:"help,omitempty"`
	DefaultConfiguration *Configuration `json:"defaultConfiguration,omitempty"`
	// Properties: code scanning reads "tags" and "security-severity".
	Properties map[string]any `json:"properties,omitempty"`
}

// Configuration is a rule's default level.
type Configuration struct {
	Level string `json:"level"`
}

// Message is plain text.
type Message struct {
	Text string `json:"text"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"` // set by Add
	Level               string            `json:"level"`     // error, warning, note
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

// Location points at a file region or a logical place (an image config field).
type Location struct {
	PhysicalLocation *PhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []LogicalLocation `json:"logicalLocations,omitempty"`
}

// PhysicalLocation is a file and optionally a region.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation is a URI, relative to the repository root when possible.
type ArtifactLocation struct {
	URI string `json:"uri"`
}

// Region is a 1-based line (and optional byte offset).
type Region struct {
	StartLine  int `json:"startLine,omitempty"`
	ByteOffset int `json:"byteOffset,omitempty"`
}

// LogicalLocation names a place that is not a file line (an image config
// field, a layer entry).
type LogicalLocation struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

// New returns a log with one run of the named tool.
func New(tool, version, uri string) *Log {
	return &Log{Schema: Schema, Version: Version, Runs: []Run{{
		Tool:    Tool{Driver: Driver{Name: tool, Version: version, InformationURI: uri, Rules: []Rule{}}},
		Results: []Result{},
	}}}
}

// AddRule registers a rule once.
func (l *Log) AddRule(r Rule) {
	d := &l.Runs[0].Tool.Driver
	for _, x := range d.Rules {
		if x.ID == r.ID {
			return
		}
	}
	d.Rules = append(d.Rules, r)
}

// Add appends a result, with the index of its rule (registered with
// AddRule, or added here with its ID alone).
func (l *Log) Add(r Result) {
	d := &l.Runs[0].Tool.Driver
	r.RuleIndex = -1
	for i, x := range d.Rules {
		if x.ID == r.RuleID {
			r.RuleIndex = i
		}
	}
	if r.RuleIndex < 0 {
		d.Rules = append(d.Rules, Rule{ID: r.RuleID})
		r.RuleIndex = len(d.Rules) - 1
	}
	l.Runs[0].Results = append(l.Runs[0].Results, r)
}

// LevelOf maps a severity (high, medium, low) to a SARIF level.
func LevelOf(severity string) string {
	switch severity {
	case "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

// SecuritySeverity is the score code scanning sorts alerts by.
func SecuritySeverity(severity string) string {
	switch severity {
	case "high":
		return "9.0"
	case "medium":
		return "6.0"
	}
	return "3.0"
}

// FileLocation is a location at a line of a file (line 0: the whole file).
func FileLocation(path string, line int) Location {
	uri := (&url.URL{Path: path}).EscapedPath() // spaces and the like, percent-encoded
	loc := Location{PhysicalLocation: &PhysicalLocation{ArtifactLocation: ArtifactLocation{URI: uri}}}
	if line > 0 {
		loc.PhysicalLocation.Region = &Region{StartLine: line}
	}
	return loc
}

// Write encodes the log, indented.
func (l *Log) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}
