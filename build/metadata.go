package build

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sealenv/sealenv/imageref"
	ifsutil "github.com/sealenv/sealenv/internal/fsutil"
)

// AuditSummary is what the metadata file says of the audit.
type AuditSummary struct {
	Clean       bool     `json:"clean"`
	Complete    bool     `json:"complete"`
	Findings    int      `json:"findings"`
	Images      int      `json:"images"`
	Layers      int      `json:"layers"`
	Files       int64    `json:"files"`
	KnownValues int      `json:"known_values"`
	RuleSet     string   `json:"rule_set"`
	Warnings    int      `json:"warnings"`
	Wrote       []string `json:"written"`
}

// Metadata is what --metadata-file holds: buildx's keys where they exist
// (containerimage.digest, containerimage.config.digest,
// containerimage.descriptor, image.name) and the audit's summary under
// sealenv.audit.
func (o *Options) Metadata(res *Result) map[string]any {
	m := map[string]any{}
	if res.Digest != "" {
		m["containerimage.digest"] = res.Digest
	}
	if res.ConfigDigest != "" {
		m["containerimage.config.digest"] = res.ConfigDigest
	}
	if res.Descriptor != nil {
		m["containerimage.descriptor"] = res.Descriptor
	}
	var names []string
	for _, d := range o.Dests {
		switch d.Transport {
		case imageref.Docker, imageref.DockerDaemon:
			names = append(names, d.Name)
		}
	}
	if len(names) > 0 {
		m["image.name"] = strings.Join(names, ",")
	}
	if r := res.Report; r != nil {
		m["sealenv.audit"] = AuditSummary{
			Clean: r.Clean(), Complete: r.Coverage.Complete, Findings: len(r.Findings),
			Images: r.Coverage.Images, Layers: r.Coverage.Layers, Files: r.Coverage.Files,
			KnownValues: r.Coverage.KnownValues, RuleSet: r.Coverage.RuleSet,
			Warnings: len(res.Warnings), Wrote: res.Wrote,
		}
	}
	return m
}

// imageID is what --iidfile holds, as buildx writes it: the config digest
// of a one-platform image, else the digest of the index.
func (res *Result) imageID() string {
	if res.ConfigDigest != "" {
		return res.ConfigDigest
	}
	return res.Digest
}

// writeMetadata writes the iidfile and the metadata file of a written
// image.
func (o *Options) writeMetadata(res *Result) error {
	if o.IIDFile != "" {
		if err := ifsutil.WriteFileAtomic(o.IIDFile, []byte(res.imageID()), 0o644); err != nil {
			return fmt.Errorf("iidfile %s: %w", o.IIDFile, ifsutil.Reason(err))
		}
	}
	if o.MetadataFile != "" {
		b, err := json.MarshalIndent(o.Metadata(res), "", "  ")
		if err != nil {
			return err
		}
		if err := ifsutil.WriteFileAtomic(o.MetadataFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("metadata file %s: %w", o.MetadataFile, ifsutil.Reason(err))
		}
	}
	return nil
}
