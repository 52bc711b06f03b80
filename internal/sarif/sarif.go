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
	Tool    Tool     `json:"tool"`
	Results []Result `json:"results"`
}

// Tool names the tool and its rules.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool's main component.
type Driver struct {
	Name           string `json:"name"`
	InformationURI string `json:"informationUri,omitempty"`
	Version        string `json:"version,omitempty"`
	Rules          []Rule `json:"rules"`
}

// Rule describes a rule that results refer to by ID.
type Rule struct {
	ID               string   `json:"id"`
	Name             string   `json:"name,omitempty"`
	ShortDescription *Message `json:"shortDescription,omitempty"`
	Help             *Message `json:"help,omitempty"`
}

// Message is plain text.
type Message struct {
	Text string `json:"text"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"` // error, warning, note
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
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

// LogicalLocation names a place that is not a file line.
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

// Add appends a result.
func (l *Log) Add(r Result) { l.Runs[0].Results = append(l.Runs[0].Results, r) }

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
