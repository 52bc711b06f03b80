package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/audit/internal/transport"
	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/match"
)

// Options configure an audit.
type Options struct {
	// Values are the sealed values to search for (the known-value detector).
	Values []Value
	// Prints are sealed values searched by their fingerprints, without an
	// identity (see [Prints]); nil for none.
	Prints *Prints
	// SealedNames are the key names of every sealed bundle, also those
	// that could not be opened; a variable with such a name is reported.
	SealedNames []string
	// Rules is the rule set (default: rules.Default()).
	Rules *rules.Set
	// Severity is the lowest rule severity reported (default: medium).
	Severity rules.Severity
	// Jobs is the number of layers read at once (default: GOMAXPROCS).
	Jobs int
	// MaxDepth bounds archives and compressed files opened in one another
	// (default 8; a .tar.gz counts 2). A file nested deeper makes the audit
	// incomplete: its bytes are searched, its content is not.
	MaxDepth int
	// MaxSparseSize bounds the logical size of a sparse file (default 1
	// TiB); a larger one makes the audit incomplete.
	MaxSparseSize int64
	// BuildContext is the directory a Dockerfile is built from, for
	// [Dockerfile] (default: the Dockerfile's directory).
	BuildContext string
	// MaxFileCheck bounds a YAML or JSON secrets file read whole for the
	// plaintext-bundle check (default 64 MiB); a larger one makes the
	// audit incomplete.
	MaxFileCheck int64
	// MaxWindow bounds the window (or dictionary) a compressed stream
	// asks the decoder to allocate: zstd, xz, lzma, brotli, 7z (default
	// 128 MiB). A stream that needs more makes the audit incomplete: its
	// bytes are searched as stored, its content not.
	MaxWindow int64
	// MaxBuffer bounds a file held whole in memory to be opened, because
	// its format cannot be read as a stream (a 7z archive, whose header is
	// at its end; a git pack, whose deltas refer back), and each git
	// object built from deltas (default 256 MiB). A larger one makes the
	// audit incomplete.
	MaxBuffer int64
	// Insecure allows plain-HTTP registries.
	Insecure bool
	// TempDir is where docker-daemon: buffers the saved image.
	TempDir string
	// DaemonHost is the Docker or Podman API address (default: $DOCKER_HOST
	// or the usual sockets).
	DaemonHost string
	// AllowShort accepts that sealed values shorter than MinValueLen are
	// not searched. Without it, each such value makes the report
	// incomplete, naming its key, unless ShortAccepted lists its index in
	// Values: a policy accepts them one by one (allow_short, per key and
	// per environment), and the same value may be accepted in one bundle
	// and not in another.
	AllowShort    bool
	ShortAccepted []int
	// Allow hides findings (each entry names its reason); Baseline holds
	// the fingerprints of accepted findings (see [ReadBaseline]).
	Allow          []Allow
	Baseline       map[string]bool
	BaselineReason string
	// Cache, when set, keeps the verdict of every layer and blob searched
	// and gives it back to a later audit instead of searching the blob
	// again (see [Cache]); Coverage.CachedLayers counts them.
	Cache *Cache

	// memo holds the scans of one run of many images (Refs).
	memo *layerMemo
}

func (o *Options) defaults() *Options {
	c := *o
	if c.Rules == nil {
		c.Rules = rules.Default()
	}
	if c.Severity == 0 {
		c.Severity = rules.Medium
	}
	if c.Jobs <= 0 {
		c.Jobs = runtime.GOMAXPROCS(0)
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 8
	}
	if c.MaxSparseSize <= 0 {
		c.MaxSparseSize = 1 << 40
	}
	if c.MaxFileCheck <= 0 {
		c.MaxFileCheck = 64 << 20
	}
	if c.MaxWindow <= 0 {
		c.MaxWindow = defaultMaxWindow
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = defaultMaxBuffer
	}
	return &c
}

// limits are the walker's bounds, from the options (after defaults).
func (o *Options) limits() limits {
	return limits{depth: o.MaxDepth, sparse: o.MaxSparseSize, check: o.MaxFileCheck, window: o.MaxWindow, buffer: o.MaxBuffer}
}

func (o *Options) detectors() *detectors {
	var rs []*rules.Rule
	for _, r := range o.Rules.Rules {
		if r.Severity >= o.Severity {
			rs = append(rs, r)
		}
	}
	d := newDetectors(o.Values, rs, o.SealedNames)
	d.usePrints(o.Prints)
	d.public = o.Rules.Public
	return d
}

// auditor gathers the findings of one audit.
type auditor struct {
	o      *Options
	d      *detectors
	st     transport.Store
	rep    *Report
	images []*imageJob
	mu     sync.Mutex
	strSc  *match.Scanner // for config, manifest and attestation strings, read one at a time
	// ociImages maps the config blob of each image the OCI index names to
	// its layer blobs, in archive paths.
	ociImages map[string][]string
	artifacts int // manifests that are not images
}

// whereArtifact places a finding in a blob of an artifact (a manifest
// whose config is not an image config).
const whereArtifact = "artifact"

type imageJob struct {
	label  string
	layers []*layerJob
}

type layerJob struct {
	index  int
	digest string
	// blob, when set, names a blob that is not a layer tar (an
	// artifact's blob, a signature's payload): it is searched as a file
	// of that name, decoded, not walked as a tar.
	blob   string
	where  string  // where its findings are: layer (default) or artifact
	key    string  // what makes two layers one blob (default: digest)
	diffID v1.Hash // checked on the decompressed stream, for layers without a digest
	open   func() (io.ReadCloser, error)
	scan   *layerScan
	err    error
	shared *layerJob // the same blob in another image, read once
	cached bool      // scan came from the verdict cache
	reused bool      // scan came from another image of the same run (Refs)
	// plain is set for a layer of a docker save archive (named by its
	// path, checked by its diff ID) found to be stored uncompressed: its
	// diff ID is the digest of its bytes as stored.
	plain bool
}

// Ref audits the image ref names, read in place from its transport (see
// the package doc). An error means the audit could not start, or was
// cancelled; problems met while reading make the coverage incomplete and
// are listed in it.
func Ref(ctx context.Context, ref imageref.Ref, opts Options) (*Report, error) {
	o := opts.defaults()
	st, label, err := transport.Open(ctx, ref, transport.Options{Insecure: o.Insecure, DaemonHost: o.DaemonHost, TempDir: o.TempDir})
	if err != nil {
		return nil, maskError(o.detectors(), err)
	}
	defer st.Close()
	return run(ctx, st, label, o)
}

// Image audits an image that go-containerregistry holds: one built or
// changed in memory, or opened by any of its transports.
func Image(ctx context.Context, img v1.Image, opts Options) (*Report, error) {
	return run(ctx, transport.Image(img), "image", opts.defaults())
}

// Index audits every image, attestation and artifact of an index.
func Index(ctx context.Context, idx v1.ImageIndex, opts Options) (*Report, error) {
	return run(ctx, transport.Index(idx), "index", opts.defaults())
}

func run(ctx context.Context, st transport.Store, label string, o *Options) (*Report, error) {
	return runWith(ctx, st, label, o, o.detectors())
}

func runWith(ctx context.Context, st transport.Store, label string, o *Options, d *detectors) (*Report, error) {
	a, err := searchWith(ctx, st, label, o, d)
	if err != nil {
		return nil, err
	}
	return a.report(label), nil
}

// searchWith reads st's manifests and configs and searches its layers:
// everything that needs the store. [auditor.report] then makes the report.
func searchWith(ctx context.Context, st transport.Store, label string, o *Options, d *detectors) (*auditor, error) {
	a := &auditor{o: o, d: d, st: st, rep: newReport(label, o)}
	if err := a.walk(ctx); err != nil {
		return nil, maskError(a.d, err)
	}
	a.scanLayers(ctx)
	if ctx.Err() != nil {
		// A cut-short audit has no report: what it says would be partial.
		return nil, context.Cause(ctx)
	}
	return a, nil
}

// report turns the searched layers into the report.
func (a *auditor) report(label string) *Report {
	a.finish()
	if a.rep.Coverage.Images == 0 {
		// An index of artifacts only (a Helm chart, signatures whose
		// image is not there) is not a clean image.
		a.incomplete("%s holds no image, only %d artifacts (their blobs were searched): there is no image to call clean", label, a.artifacts)
	}
	a.redactPlaces()
	a.rep.filter(a.o)
	return a.rep
}

func newReport(source string, o *Options) *Report {
	r := &Report{Tool: "sealenv", Source: source, Findings: []Finding{}, rules: o.Rules}
	r.Coverage.Complete = true
	r.Coverage.RuleSet = o.Rules.Version
	r.Coverage.Severity = o.Severity.String()
	r.Coverage.MinValueLen = MinValueLen
	return r
}

func (a *auditor) incomplete(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rep.Coverage.Complete = false
	a.rep.Coverage.Errors = append(a.rep.Coverage.Errors, fmt.Sprintf(format, args...))
}

func (a *auditor) add(f Finding) {
	a.mu.Lock()
	a.rep.Findings = append(a.rep.Findings, f)
	a.mu.Unlock()
}

// walk reads the manifests, configs, annotations and attestations, and
// lists the layers to read.
func (a *auditor) walk(ctx context.Context) error {
	var legacy []transport.LegacyImage
	if ls, ok := a.st.(transport.LegacyStore); ok {
		var err error
		if legacy, err = ls.Legacy(); err != nil {
			return err
		}
	}
	raw, mt, err := a.st.Root(ctx)
	if errors.Is(err, transport.ErrNoRoot) {
		raw = nil
	} else if err != nil && len(legacy) == 0 {
		return fmt.Errorf("reading the image root: %w", err)
	}
	if err == nil {
		if isIndex(raw, mt) {
			if err := a.index(ctx, raw, "index", 0); err != nil {
				return err
			}
		} else {
			d, err := v1.NewHash("sha256:" + sha256hex(raw))
			if err != nil {
				return err
			}
			if err := a.image(ctx, raw, v1.Descriptor{Digest: d, MediaType: mt}, ""); err != nil {
				return err
			}
		}
	}
	if mj, ok := a.st.(transport.ManifestJSON); ok && mj.ManifestJSON() != nil {
		a.rawDoc(mj.ManifestJSON(), whereManifest, "", "manifest.json", len(a.rep.Findings))
	}
	// docker load reads manifest.json, other tools index.json: an image
	// only one of them names is audited too.
	for _, li := range legacy {
		if a.seenOCI(li) {
			continue
		}
		if raw != nil {
			a.rep.Coverage.Notes = append(a.rep.Coverage.Notes, fmt.Sprintf("manifest.json names an image (config %s) that index.json does not; both were audited", li.Config))
		}
		a.legacyImage(li)
	}
	return nil
}

// seenOCI reports whether an image of manifest.json is one the OCI index
// named already: the same config blob and the same layer blobs.
func (a *auditor) seenOCI(li transport.LegacyImage) bool {
	layers, ok := a.ociImages[transport.CleanPath(li.Config)]
	if !ok || len(layers) != len(li.Layers) {
		return false
	}
	for i, l := range li.Layers {
		if transport.CleanPath(l) != layers[i] {
			return false
		}
	}
	return true
}

// rawDoc searches a document (an index, a manifest, a config, an
// attestation) as stored, after its strings were searched one by one
// (findings from index from on): what that did not find, in a key or
// behind an escape, is reported at its offset.
func (a *auditor) rawDoc(b []byte, where, image, field string, from int) {
	a.mu.Lock()
	seen := map[string]bool{}
	for _, f := range a.rep.Findings[from:] {
		seen[f.Kind+"\x00"+f.Rule+"\x00"+f.Secret] = true
	}
	a.mu.Unlock()
	if a.strSc == nil {
		a.strSc = a.d.scanner()
	}
	a.strSc.Bytes(b, func(h match.Hit) {
		f := a.hitFinding(h)
		if seen[f.Kind+"\x00"+f.Rule+"\x00"+f.Secret] {
			return
		}
		f.Where, f.Image, f.Field = where, image, field+" (as stored)"
		a.add(f)
	})
}

func isIndex(raw []byte, mt types.MediaType) bool {
	if mt.IsIndex() {
		return true
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []json.RawMessage
	}
	json.Unmarshal(raw, &probe)
	return probe.MediaType.IsIndex() || (probe.MediaType == "" && probe.Manifests != nil)
}

func (a *auditor) index(ctx context.Context, raw []byte, field string, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%s: indexes nested too deep", field)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	from := len(a.rep.Findings)
	a.annotations(im.Annotations, "", field+".annotations")
	for i, d := range im.Manifests {
		a.annotations(d.Annotations, "", fmt.Sprintf("%s.manifests[%d].annotations", field, i))
	}
	a.rawDoc(raw, whereManifest, "", field, from)
	for i, d := range im.Manifests {
		f := fmt.Sprintf("%s.manifests[%d]", field, i)
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			a.attestation(ctx, d, f)
			continue
		}
		b, err := transport.Manifest(ctx, a.st, d)
		if err != nil {
			a.incomplete("%s (%s): %v", f, d.Digest, err)
			continue
		}
		switch {
		case isIndex(b, d.MediaType):
			if err := a.index(ctx, b, f, depth+1); err != nil {
				a.incomplete("%v", err)
			}
		default:
			label := d.Digest.String()
			if d.Platform != nil {
				label = d.Platform.String() + " " + label
			}
			if err := a.image(ctx, b, d, label); err != nil {
				a.incomplete("%s: %v", f, err)
			}
		}
	}
	return nil
}

// image reads a manifest and its config, and queues its layers.
func (a *auditor) image(ctx context.Context, raw []byte, d v1.Descriptor, label string) error {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if label == "" {
		label = d.Digest.String()
	}
	from := len(a.rep.Findings)
	a.annotations(m.Annotations, label, "manifest.annotations")
	a.rawDoc(raw, whereManifest, label, "manifest", from)
	if !m.Config.MediaType.IsConfig() && m.Config.MediaType != "" {
		// An artifact, not an image (a Helm chart, an SBOM, a referrer
		// with an empty config): its blobs are searched decoded.
		a.artifact(ctx, m, "artifact "+label)
		return nil
	}
	a.rep.Coverage.Images++
	cfg, err := a.readBlob(ctx, m.Config)
	if err != nil {
		return fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	from = len(a.rep.Findings)
	a.config(cfg, label)
	a.rawDoc(cfg, whereConfig, label, "config", from)
	job := &imageJob{label: label}
	var paths []string
	for _, l := range m.Layers {
		paths = append(paths, transport.BlobPath(l.Digest))
	}
	if a.ociImages == nil {
		a.ociImages = map[string][]string{}
	}
	a.ociImages[transport.BlobPath(m.Config.Digest)] = paths
	st := a.st // the store of this image: an audit of many walks several
	for i, l := range m.Layers {
		lj := &layerJob{index: i, digest: l.Digest.String(), open: func() (io.ReadCloser, error) {
			return st.Blob(ctx, l)
		}}
		if !isTarLayer(l.MediaType) {
			// A signature's or an attestation's payload (cosign puts
			// them in an image manifest): searched as a file, decoded.
			lj.blob = blobName(l, i)
		}
		job.layers = append(job.layers, lj)
	}
	a.images = append(a.images, job)
	return nil
}

// isTarLayer reports whether a layer's media type says it is a tar (as
// runtimes apply it), compressed or not. Any other blob of an image is
// searched as a file, decoded by content: a tar in it is still walked.
func isTarLayer(mt types.MediaType) bool {
	return mt == "" || mt.IsLayer() || strings.Contains(string(mt), ".tar") || strings.Contains(string(mt), "layer")
}

// blobName is what a blob that is not a layer tar is called in findings:
// its title annotation (the file name oras and cosign record), else its
// index and media type.
func blobName(d v1.Descriptor, i int) string {
	if t := d.Annotations["org.opencontainers.image.title"]; t != "" {
		return transport.CleanPath(t)
	}
	return fmt.Sprintf("blobs[%d] (%s)", i, d.MediaType)
}

func (a *auditor) legacyImage(li transport.LegacyImage) {
	label := li.Tag
	if label == "" {
		label = li.Config
	}
	a.rep.Coverage.Images++
	rc, err := li.Open(li.Config)
	if err != nil {
		a.incomplete("%s: config: %v", label, err)
		return
	}
	cfg, err := transport.ReadDoc(rc)
	rc.Close()
	if err != nil {
		a.incomplete("%s: config: %v", label, err)
		return
	}
	from := len(a.rep.Findings)
	a.config(cfg, label)
	a.rawDoc(cfg, whereConfig, label, "config", from)
	var diffIDs []string
	if c, err := v1.ParseConfigFile(bytes.NewReader(cfg)); err == nil {
		for _, h := range c.RootFS.DiffIDs {
			diffIDs = append(diffIDs, h.String())
		}
	}
	job := &imageJob{label: label}
	for i, p := range li.Layers {
		dg := p
		var want v1.Hash
		if i < len(diffIDs) {
			dg = diffIDs[i]
			want, _ = v1.NewHash(diffIDs[i])
		}
		job.layers = append(job.layers, &layerJob{index: i, digest: dg, key: "archive:" + transport.CleanPath(p), diffID: want, open: func() (io.ReadCloser, error) {
			return li.Open(p)
		}})
	}
	a.images = append(a.images, job)
}

// scanLayers reads every distinct layer once, Jobs at a time.
func (a *auditor) scanLayers(ctx context.Context) {
	seen := map[string]*layerJob{}
	var queue []*layerJob
	for _, img := range a.images {
		for _, l := range img.layers {
			key := l.key
			if key == "" {
				key = l.digest
			}
			if s := seen[key]; s != nil {
				l.shared = s
				continue
			}
			seen[key] = l
			queue = append(queue, l)
		}
	}
	// Larger work first would need sizes; file order keeps reports stable.
	ch := make(chan *layerJob)
	slots := asyncSlots()
	vc := a.o.verdictCache(a.d)
	var wg sync.WaitGroup
	for w := 0; w < min(a.o.Jobs, max(len(queue), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := newWalker(a.d, a.o.limits())
			wk.async = slots
			for l := range ch {
				a.scanOne(ctx, wk, vc, l)
			}
		}()
	}
	for _, l := range queue {
		ch <- l
	}
	close(ch)
	wg.Wait()
}

// finish turns layer hits into findings, with the layer that deletes each
// file, and fills in the coverage.
func (a *auditor) finish() {
	cov := &a.rep.Coverage
	a.coverValues()
	cov.PublicSkipped = int(a.d.m.Skipped())
	counted := map[*layerJob]bool{}
	for _, img := range a.images {
		for _, l := range img.layers {
			src := l
			if l.shared != nil {
				src = l.shared
			}
			what := "layer"
			if l.where == whereArtifact {
				what = "blob"
			}
			if src.err != nil {
				if !counted[src] {
					a.incomplete("%s: %s %d (%s): %v", img.label, what, l.index, l.digest, src.err)
				}
				counted[src] = true
				continue
			}
			if !counted[src] {
				counted[src] = true
				if l.where != whereArtifact {
					cov.Layers++
					if src.cached {
						cov.CachedLayers++
					}
					if src.reused {
						cov.ReusedLayers++
					}
				}
				cov.Files += src.scan.files
				cov.Bytes += src.scan.bytes
				for _, n := range src.scan.notes {
					cov.Notes = append(cov.Notes, fmt.Sprintf("%s %d (%s): %s", what, l.index, l.digest, n))
				}
				for _, e := range src.scan.incomplete {
					a.incomplete("%s: %s %d (%s): %s", img.label, what, l.index, l.digest, e)
				}
			}
			for _, h := range src.scan.hits {
				f := a.d.finding(h, whereLayer)
				a.place(&f, img, l)
				a.rep.Findings = append(a.rep.Findings, f)
			}
			for _, p := range src.scan.plain {
				f := p
				f.Where = whereLayer
				a.place(&f, img, l)
				a.rep.Findings = append(a.rep.Findings, f)
			}
		}
	}
	sort.SliceStable(a.rep.Findings, func(i, j int) bool {
		x, y := &a.rep.Findings[i], &a.rep.Findings[j]
		if x.Image != y.Image {
			return x.Image < y.Image
		}
		return order(x) < order(y)
	})
}

func order(f *Finding) int64 {
	w := map[string]int64{whereConfig: 0, whereHistory: 1, whereAnnotation: 2, whereManifest: 3, whereAttestation: 4, whereLayer: 5, whereArtifact: 6}[f.Where]
	var l int64
	if f.LayerIndex != nil {
		l = int64(*f.LayerIndex)
	}
	return w<<50 | l<<40
}

// place gives a finding of a layer job its place: a layer of an image, or
// a blob of an artifact.
func (a *auditor) place(f *Finding, img *imageJob, l *layerJob) {
	if l.where == whereArtifact {
		f.Where = whereArtifact
		f.Image = img.label
		f.LayerDigest = l.digest
		f.Field = fmt.Sprintf("blobs[%d]", l.index)
		return
	}
	a.placeInLayer(f, img, l)
}

func (a *auditor) placeInLayer(f *Finding, img *imageJob, l *layerJob) {
	i := l.index
	f.Image = img.label
	f.LayerIndex = &i
	f.LayerDigest = l.digest
	outer, _, _ := strings.Cut(f.Path, "!/")
	for _, later := range img.layers[l.index+1:] {
		s := later.scan
		if later.shared != nil {
			s = later.shared.scan
		}
		if s != nil && deletes(s, outer) {
			j := later.index
			f.DeletedInLayer = &j
			f.DeletedInLayerDigest = later.digest
			f.Message = strings.TrimSpace(f.Message + " (deleted by a later layer, but still in the image)")
			break
		}
	}
}

func deletes(s *layerScan, p string) bool {
	for _, w := range s.whiteouts {
		if p == w || strings.HasPrefix(p, w+"/") {
			return true
		}
	}
	for _, o := range s.opaques {
		if o == "" || strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}

// hitFinding turns a detector hit into a finding without a location.
func (a *auditor) hitFinding(h match.Hit) Finding { return a.d.hitFinding(h) }

func (d *detectors) hitFinding(h match.Hit) Finding {
	off := h.Offset
	f := Finding{Offset: &off, Encoding: h.Encoding, Preview: h.Preview}
	if r := d.rule(h); r != nil {
		f.Kind = kindRule
		f.Rule = r.ID
		f.Severity = r.Severity.String()
		f.Message = r.Description
	} else {
		f.Kind = kindKnown
		f.Rule = "sealed-value"
		f.Severity = "high"
		f.Secret = h.Name
		f.Message = fmt.Sprintf("the sealed value %s, %s", h.Name, h.Encoding)
	}
	return f
}

// strings searches one string of the config, a manifest or an attestation.
func (a *auditor) searchString(s, where, image, field string) {
	if a.strSc == nil {
		a.strSc = a.d.scanner() // Bytes needs no buffer
	}
	a.strSc.Bytes([]byte(s), func(h match.Hit) {
		f := a.hitFinding(h)
		f.Where, f.Image, f.Field = where, image, field
		a.add(f)
	})
}

func (a *auditor) annotations(m map[string]string, image, field string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.searchString(m[k], whereAnnotation, image, field+"["+strconv.Quote(k)+"]")
	}
}

// artifact queues the blobs of a non-image manifest (its config first)
// to be searched as files, decoded: a Helm chart's tar.gz, an SBOM, a
// DSSE envelope (whose payload is decoded too).
func (a *auditor) artifact(ctx context.Context, m *v1.Manifest, label string) {
	a.artifacts++
	job := &imageJob{label: label}
	st := a.st
	for i, l := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if l.Digest.Hex == "" {
			continue
		}
		job.layers = append(job.layers, &layerJob{index: i, digest: l.Digest.String(), blob: blobName(l, i), where: whereArtifact, open: func() (io.ReadCloser, error) {
			return st.Blob(ctx, l)
		}})
	}
	a.images = append(a.images, job)
}

func (a *auditor) readBlob(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	rc, err := a.st.Blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return transport.ReadDoc(rc)
}

// ctxReader stops a layer read when the audit is cancelled (the read
// fails, so the coverage is incomplete).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
