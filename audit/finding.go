package audit

import "github.com/sealenv/sealenv/audit/rules"

// Finding kinds.
const (
	kindKnown     = "known-value"
	kindRule      = "rule"
	kindPlain     = "plaintext-bundle"
	kindBuildArg  = "build-arg"
	kindDockerfle = "dockerfile"
)

// Places a finding can be.
const (
	whereLayer       = "layer"
	whereConfig      = "config"
	whereHistory     = "history"
	whereAnnotation  = "annotation"
	whereManifest    = "manifest" // an index or manifest as stored
	whereAttestation = "attestation"
	whereDockerfile  = "dockerfile"
	whereFile        = "file" // a file of a working tree or commit (Files)
)

// Finding is one place where a secret is. It never holds a secret value:
// Preview shows at most an eighth of the match, and never more than four
// bytes of it.
type Finding struct {
	// Source is the image the finding is in, in a report of many
	// ([Refs], [Merge]).
	Source   string `json:"source,omitempty"`
	Kind     string `json:"kind"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// Secret is the name of the sealed value, for known values.
	Secret string `json:"secret"`
	// Name is the variable, build argument or label name, where there is one.
	Name  string `json:"name,omitempty"`
	Where string `json:"where"`
	// Image names the manifest (and platform) the finding is in.
	Image       string `json:"image,omitempty"`
	LayerIndex  *int   `json:"layer_index"`
	LayerDigest string `json:"layer_digest"`
	// Path is the file in the layer; "a.jar!/b/c" is the entry b/c of the
	// archive a.jar. For a Dockerfile it is the Dockerfile.
	Path string `json:"path"`
	// Part is where in the archive entry at Path the match is: data,
	// header, name, linkname, pax, xattr, padding, trailer (after the
	// end-of-archive marker), unparsed (after structure that does not
	// parse), or stored (in a compressed layer as stored).
	Part string `json:"part,omitempty"`
	// Offset is where the match starts in the file's content (part data),
	// or in the string or document of a config, manifest or attestation
	// finding.
	Offset *int64 `json:"offset"`
	// StreamOffset is where the match starts in the stream that was
	// searched: the decompressed layer, the compressed blob (part
	// stored), or the decompressed content of a compressed file inside it
	// (Path names that file).
	StreamOffset *int64 `json:"stream_offset,omitempty"`
	// Line is the line of a Dockerfile finding.
	Line int `json:"line,omitempty"`
	// DeletedInLayer is the later layer whose whiteout deletes the file; the
	// file is still in the image.
	DeletedInLayer       *int   `json:"deleted_in_layer"`
	DeletedInLayerDigest string `json:"deleted_in_layer_digest,omitempty"`
	// Git names the git object the finding is in, when Path is in a
	// repository's object store (a loose object, or "pack!/id").
	Git *GitObject `json:"git,omitempty"`
	// Field is the JSON path in the config, the manifest or the attestation.
	Field    string `json:"field"`
	Encoding string `json:"encoding"`
	Preview  string `json:"preview"`
	Message  string `json:"message"`
	// Fingerprint identifies the finding across builds, for baselines.
	Fingerprint string `json:"fingerprint"`
}

// Coverage says what the audit read. Complete is false when anything could
// not be read; such an audit is never clean.
type Coverage struct {
	Images int `json:"images"`
	Layers int `json:"layers"`
	// CachedLayers is how many of Layers had their verdict from the
	// verdict cache (Options.Cache), not searched again in this audit.
	CachedLayers int `json:"cached_layers,omitempty"`
	// ReusedLayers is how many of Layers were searched for another image
	// of the same run (an audit of many images, [Refs]), not again.
	ReusedLayers int      `json:"reused_layers,omitempty"`
	Files        int64    `json:"files"`
	Bytes        int64    `json:"bytes"`
	Complete     bool     `json:"complete"`
	Errors       []string `json:"errors,omitempty"`
	Attestations int      `json:"attestations"`
	// KnownValues is the number of sealed values searched for; ShortValues
	// names those not searched for being shorter than MinValueLen bytes,
	// and ShortAccepted those of them whose not being searched was
	// accepted (Options.AllowShort, Options.ShortAccepted). Any other short
	// value makes the report incomplete.
	KnownValues   int      `json:"known_values"`
	ShortValues   []string `json:"short_values,omitempty"`
	ShortAccepted []string `json:"short_accepted,omitempty"`
	MinValueLen   int      `json:"min_value_len"`
	// FingerprintValues is the number of sealed values searched by their
	// fingerprints, without an identity (see [Prints]).
	FingerprintValues int `json:"fingerprint_values,omitempty"`
	// Notes lists files that looked like archives but could not be
	// opened as such: their bytes were searched as stored (in the layer
	// stream), their unparsed remainder was not opened.
	Notes []string `json:"notes,omitempty"`
	// PublicSkipped counts matches of secrets the rule set lists as
	// published on purpose (example keys in open-source trees).
	PublicSkipped int    `json:"public_skipped,omitempty"`
	RuleSet       string `json:"rule_set"`
	Severity      string `json:"severity"`
}

// Provenance is what an attestation records about a build.
type Provenance struct {
	Image         string   `json:"image"`
	PredicateType string   `json:"predicate_type"`
	Mode          string   `json:"mode"` // "max", "min" or "" when unknown
	BuildArgs     []string `json:"build_args,omitempty"`
	Secrets       []string `json:"secrets,omitempty"`
}

// Report is the result of an audit.
type Report struct {
	Tool       string       `json:"tool"`
	Version    string       `json:"version"`
	Source     string       `json:"source"`
	Findings   []Finding    `json:"findings"`
	Coverage   Coverage     `json:"coverage"`
	Provenance []Provenance `json:"provenance,omitempty"`
	// Suppressed lists what the allowlist and the baseline hid, with why.
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	// Images is each source's verdict, in a report of many ([Refs],
	// [Merge]); Coverage then sums theirs.
	Images []ImageResult `json:"images,omitempty"`

	rules *rules.Set // for the rules' descriptions in SARIF
	mask  *detectors // the audit's detectors, which mask every string before it is written
}

// Clean reports whether the audit read everything and found nothing.
func (r *Report) Clean() bool { return r.Coverage.Complete && len(r.Findings) == 0 }
