// Package wrap seals an existing image without its Dockerfile: it appends
// one layer that holds the slim injector and the sealed bundles, and points
// the entrypoint at the injector. It works on images from any tool (ko, Jib,
// buildpacks, Nix) with go-containerregistry's mutate; no daemon or build
// tool is involved.
//
// # What a wrapped image looks like
//
//   - one new top layer: /usr/local/bin/sealenv-inject (0755) and the
//     bundles, one at /etc/sealenv/bundle.env (or .yaml, .json), several under
//     /etc/sealenv/bundle.d/ in order; entries sorted, owned by 0:0, with a
//     fixed time, so the same inputs give the same digest;
//   - Entrypoint = [injector, (--bundle PATH)..., "--", original Entrypoint...];
//     Cmd is unchanged;
//   - with [Options.AllowNames] (the policy's allow_names): "--allow-name
//     NAME" in the entrypoint for each, so the injector accepts exactly
//     those of the names it refuses by default;
//   - with an allowed signers file ([Options.Signers]): each bundle's
//     signature next to it (BUNDLE.sig), the file at [SignersPath], and
//     "--signers PATH" in the entrypoint, so the injector starts only with
//     bundles an allowed key signed (checked at wrap time too);
//   - labels io.sealenv.wrap.* recording the injector version and digest,
//     the bundle digests and key names (never a value), and the original
//     entrypoint, so wrapping again replaces the sealed layer instead of
//     stacking injectors.
package wrap

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

// Paths inside the image; they match the injector's documented defaults.
const (
	InjectorPath = "/usr/local/bin/sealenv-inject"
	BundleDir    = "/etc/sealenv"
	SignersPath  = BundleDir + "/allowed_signers"
	NamesPath    = BundleDir + "/names"
)

// Labels written on a wrapped image.
const (
	LabelVersion    = "io.sealenv.wrap.version"
	LabelInjector   = "io.sealenv.wrap.injector"
	LabelBundles    = "io.sealenv.wrap.bundles"
	LabelKeys       = "io.sealenv.wrap.keys"
	LabelEntrypoint = "io.sealenv.wrap.entrypoint"
	LabelLayer      = "io.sealenv.wrap.layer"
	LabelOnly       = "io.sealenv.wrap.only"
	LabelAllowNames = "io.sealenv.wrap.allow_names"
	LabelSigners    = "io.sealenv.wrap.signers"
	LabelNames      = "io.sealenv.wrap.names"
)

// historyMarker is the created_by of the sealed layer.
const historyMarker = "sealenv wrap"

// Bundle is a sealed bundle to put in the image.
type Bundle struct {
	Name string // file name, for the store (.env, .yaml or .json)
	Data []byte
	// Sig is the bundle's signature file (BUNDLE.sig), if it has one; it
	// goes next to the bundle in the image.
	Sig []byte
}

// Injector is a slim injector binary for one platform.
type Injector struct {
	Platform string // "linux/amd64", "linux/arm64", ...
	Data     []byte
}

// Options configure a wrap.
type Options struct {
	Bundles   []Bundle
	Injectors []Injector // one per platform of the source
	Version   string     // recorded in a label
	// Only limits the keys the command receives (the injector's --only):
	// least privilege when one bundle feeds several services.
	Only []string
	// AllowNames lists the names the injector refuses by default that the
	// bundles may set all the same (the policy's allow_names): each goes
	// to the entrypoint as --allow-name, and a bundle with any other such
	// name is refused now, with the *inject.NameError, rather than at
	// every start (see inject.RefusedName).
	AllowNames []string
	// AnyInjector skips [CheckInjector] (an injector built outside sealenv);
	// the architecture is still checked.
	AnyInjector bool
	// Signers is an allowed signers file (see package seal/signature): it
	// goes to [SignersPath], the entrypoint gets --signers, and every
	// bundle must be signed by a key it allows, now and at every start.
	Signers []byte
	// Names are the names the policy declares for the bundles'
	// environment (policies.Policy.DeclaredNames): every key of every
	// bundle must be one (or its grace value), else the wrap is refused;
	// they go to [NamesPath], one a line, and the entrypoint gets --names,
	// so the injector runs no other name. Empty: no list.
	Names []string
	// Now is the clock of the wrap-time signature check; nil is time.Now.
	Now func() time.Time
}

// Error kinds.
var (
	ErrNoCommand     = errors.New("image has neither Entrypoint nor Cmd")
	ErrNoInjector    = errors.New("no injector for platform")
	ErrWrongArch     = errors.New("injector is built for another architecture")
	ErrUnsupported   = errors.New("unsupported image")
	ErrInvalidBundle = errors.New("invalid bundle")
)

// checked is a validated bundle with its path in the image.
type checked struct {
	path   string
	data   []byte
	sig    []byte
	digest string
	keys   []string
}

func (o *Options) check() ([]checked, error) {
	if len(o.Bundles) == 0 {
		return nil, errors.New("no bundle: pass --bundle FILE")
	}
	var out []checked
	for i, b := range o.Bundles {
		f, err := seal.DetectFormat(b.Name, b.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidBundle, b.Name, err)
		}
		info, err := seal.Inspect(f, b.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidBundle, b.Name, err)
		}
		ext := ".env" // the name tells the injector the store
		switch f {
		case seal.FormatYAML:
			ext = ".yaml"
		case seal.FormatJSON:
			ext = ".json"
		}
		p := BundleDir + "/bundle" + ext
		if len(o.Bundles) > 1 {
			base := strings.TrimSuffix(path.Base(b.Name), path.Ext(b.Name))
			p = fmt.Sprintf("%s/bundle.d/%02d-%s%s", BundleDir, i+1, sanitize(base), ext)
		}
		sum := sha256.Sum256(b.Data)
		out = append(out, checked{path: p, data: b.Data, sig: b.Sig, digest: "sha256:" + hex.EncodeToString(sum[:]), keys: info.Keys})
	}
	if err := o.checkSignatures(out); err != nil {
		return nil, err
	}
	for _, inj := range o.Injectors {
		if !o.AnyInjector {
			if _, err := CheckInjector(inj.Data); err != nil {
				return nil, fmt.Errorf("injector for %s: %w", inj.Platform, err)
			}
		}
		if err := checkArch(inj); err != nil {
			return nil, err
		}
	}
	have := map[string]bool{}
	from := map[string]string{}
	for i, b := range out {
		for _, k := range b.keys {
			if prev, dup := from[k]; dup {
				return nil, fmt.Errorf("%w: key %s is in both %s and %s; the injector refuses duplicates", ErrInvalidBundle, k, prev, o.Bundles[i].Name)
			}
			have[k], from[k] = true, o.Bundles[i].Name
		}
	}
	for _, k := range o.Only {
		if !have[k] {
			return nil, fmt.Errorf("%w: the service may receive %s, which no bundle holds", ErrInvalidBundle, k)
		}
	}
	// The names the policy declares: the wrapped injector runs no other.
	if len(o.Names) > 0 {
		for i, b := range out {
			for _, k := range b.keys {
				base, grace := strings.CutSuffix(k, seal.GraceSuffix)
				if !slices.Contains(o.Names, k) && !(grace && slices.Contains(o.Names, base)) {
					return nil, fmt.Errorf("%w: %s: key %s is not among the names the policy declares (keys:, the environment's required:, a service's keys), and the wrapped injector runs only those", ErrInvalidBundle, o.Bundles[i].Name, k)
				}
			}
		}
	}
	// The names the wrapped injector will refuse: the keys it passes on.
	for i, b := range out {
		for _, k := range b.keys {
			if len(o.Only) > 0 && !slices.Contains(o.Only, k) && !slices.Contains(o.Only, strings.TrimSuffix(k, seal.GraceSuffix)) {
				continue
			}
			if err := inject.RefusedName(k, o.AllowNames, o.Only); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInvalidBundle, o.Bundles[i].Name, err)
			}
		}
	}
	return out, nil
}

// checkSignatures checks, when Signers is set, that every bundle is signed
// by a key it allows: an image whose injector would refuse to start is an
// error now, not at deploy time.
func (o *Options) checkSignatures(bundles []checked) error {
	if o.Signers == nil {
		return nil
	}
	allowed, err := signature.ParseAllowedSigners(o.Signers)
	if err != nil {
		return fmt.Errorf("%w: allowed signers: %v", ErrInvalidBundle, err)
	}
	if allowed.Len() == 0 {
		return fmt.Errorf("%w: the allowed signers file lists no signer", ErrInvalidBundle)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	for i := range bundles {
		b := &bundles[i]
		name := o.Bundles[i].Name
		if b.sig == nil {
			return fmt.Errorf("%w: %s: %w: no signature %s, and the image requires one (sign it with sealenv sign %s)", ErrInvalidBundle, name, signature.ErrUnsigned, signature.Path(name), name)
		}
		if _, err := signature.Verify(b.data, b.sig, allowed, now()); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidBundle, name, err)
		}
	}
	return nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "bundle"
	}
	return b.String()
}

// ELFPlatform reads the platform ("linux/amd64") an ELF binary is built for.
func ELFPlatform(data []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return "", errors.New("not an ELF executable")
	}
	defer f.Close()
	arch := map[elf.Machine]string{
		elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386", elf.EM_ARM: "arm",
		elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x", elf.EM_RISCV: "riscv64",
	}[f.Machine]
	if arch == "" {
		return "", fmt.Errorf("unknown ELF machine %v", f.Machine)
	}
	return "linux/" + arch, nil
}

func checkArch(inj Injector) error {
	got, err := ELFPlatform(inj.Data)
	if err != nil {
		return fmt.Errorf("injector for %s: %w", inj.Platform, err)
	}
	if normPlatform(inj.Platform) != got {
		return fmt.Errorf("%w: injector for %s is a %s binary", ErrWrongArch, inj.Platform, got)
	}
	return nil
}

// normPlatform drops a variant ("linux/arm64/v8" -> "linux/arm64").
func normPlatform(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, "/")
}

func (o *Options) injectorFor(platform string) (*Injector, error) {
	for i := range o.Injectors {
		if normPlatform(o.Injectors[i].Platform) == normPlatform(platform) {
			return &o.Injectors[i], nil
		}
	}
	var have []string
	for _, inj := range o.Injectors {
		have = append(have, inj.Platform)
	}
	return nil, fmt.Errorf("%w %s (have: %s); pass --injector %s=PATH", ErrNoInjector, platform, strings.Join(have, ", "), platform)
}

// epoch is the time of every file in the sealed layer and of its history.
var epoch = time.Unix(0, 0).UTC()

// sealedLayer builds the layer deterministically: sorted entries, fixed
// owner, modes and times, fixed gzip level.
func sealedLayer(inj *Injector, bundles []checked, signers, names []byte, mt types.MediaType) (v1.Layer, error) {
	type file struct {
		path string
		mode int64
		data []byte
	}
	files := []file{{strings.TrimPrefix(InjectorPath, "/"), 0o755, inj.Data}}
	for _, b := range bundles {
		files = append(files, file{strings.TrimPrefix(b.path, "/"), 0o444, b.data})
		if b.sig != nil {
			files = append(files, file{strings.TrimPrefix(signature.Path(b.path), "/"), 0o444, b.sig})
		}
	}
	if signers != nil {
		files = append(files, file{strings.TrimPrefix(SignersPath, "/"), 0o444, signers})
	}
	if names != nil {
		files = append(files, file{strings.TrimPrefix(NamesPath, "/"), 0o444, names})
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.path); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	type entry struct {
		name string
		dir  bool
		f    file
	}
	var entries []entry
	for d := range dirs {
		entries = append(entries, entry{name: d + "/", dir: true})
	}
	for _, f := range files {
		entries = append(entries, entry{name: f.path, f: f})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, ModTime: epoch, Uid: 0, Gid: 0, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, e.f.mode, int64(len(e.f.data))
		}
		// PAX records with access/change times would vary; keep them out.
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !e.dir {
			if _, err := tw.Write(e.f.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(mt), tarball.WithCompressionLevel(6))
}

// Image wraps one single-platform image.
func Image(img v1.Image, o *Options) (v1.Image, error) {
	bundles, err := o.check()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	platform := cf.OS + "/" + cf.Architecture
	inj, err := o.injectorFor(platform)
	if err != nil {
		return nil, err
	}
	return wrapOne(img, inj, bundles, o)
}

func wrapOne(img v1.Image, inj *Injector, bundles []checked, o *Options) (v1.Image, error) {
	base, err := unwrap(img)
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return nil, ErrNoCommand
	}
	mt, err := base.MediaType()
	if err != nil {
		return nil, err
	}
	layerType := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}
	layer, err := sealedLayer(inj, bundles, o.Signers, inject.NamesFile(o.Names, "sealenv wrap"), layerType)
	if err != nil {
		return nil, fmt.Errorf("building the sealed layer: %w", err)
	}
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, err
	}
	out, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: historyMarker, Comment: "injector and sealed bundles",
	}})
	if err != nil {
		return nil, err
	}
	ncf, err := out.ConfigFile()
	if err != nil {
		return nil, err
	}
	ncf = ncf.DeepCopy()
	orig, _ := json.Marshal(cfg.Entrypoint)
	// Bundles are always named: a SEALENV_BUNDLE in the base image's
	// environment must not decide what the injector reads.
	entry := []string{InjectorPath}
	for _, b := range bundles {
		entry = append(entry, "--bundle", b.path)
	}
	for _, k := range o.Only {
		entry = append(entry, "--only", k)
	}
	for _, n := range o.AllowNames {
		entry = append(entry, "--allow-name", n)
	}
	if o.Signers != nil {
		// Named, not left to the default path: the injector must check.
		entry = append(entry, "--signers", SignersPath)
	}
	if len(o.Names) > 0 {
		entry = append(entry, "--names", NamesPath)
	}
	ncf.Config.Entrypoint = append(append(entry, "--"), cfg.Entrypoint...)
	if ncf.Config.Labels == nil {
		ncf.Config.Labels = map[string]string{}
	}
	var digests, keys []string
	seen := map[string]bool{}
	for _, b := range bundles {
		digests = append(digests, b.path+"="+b.digest)
		for _, k := range b.keys {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	injSum := sha256.Sum256(inj.Data)
	ncf.Config.Labels[LabelVersion] = o.Version
	if len(o.Only) > 0 {
		ncf.Config.Labels[LabelOnly] = strings.Join(o.Only, ",")
	}
	if len(o.AllowNames) > 0 {
		ncf.Config.Labels[LabelAllowNames] = strings.Join(o.AllowNames, ",")
	}
	ncf.Config.Labels[LabelInjector] = "sha256:" + hex.EncodeToString(injSum[:])
	ncf.Config.Labels[LabelBundles] = strings.Join(digests, ",")
	ncf.Config.Labels[LabelKeys] = strings.Join(keys, ",")
	ncf.Config.Labels[LabelEntrypoint] = string(orig)
	ncf.Config.Labels[LabelLayer] = diffID.String()
	if names := inject.NamesFile(o.Names, "sealenv wrap"); names != nil {
		sum := sha256.Sum256(names)
		ncf.Config.Labels[LabelNames] = "sha256:" + hex.EncodeToString(sum[:])
	}
	if o.Signers != nil {
		sum := sha256.Sum256(o.Signers)
		ncf.Config.Labels[LabelSigners] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return mutate.ConfigFile(out, ncf)
}

// unwrap returns img without a previous sealed layer, with its original
// entrypoint and without the wrap labels. An image that was not wrapped is
// returned as it is.
func unwrap(img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	want := cf.Config.Labels[LabelLayer]
	n := len(cf.RootFS.DiffIDs)
	if want == "" {
		return img, nil
	}
	if n == 0 || cf.RootFS.DiffIDs[n-1].String() != want {
		// Built FROM a wrapped image: a second injector would run after the
		// first had removed the identity. Wrap the original image instead.
		return nil, fmt.Errorf("%w: the image was built on top of a wrapped image (its sealed layer is not the top one); wrap the image it was built from, or build FROM an unwrapped base", ErrUnsupported)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, mt)
	if mt == types.OCIManifestSchema1 {
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	var adds []mutate.Addendum
	for _, l := range layers[:len(layers)-1] {
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	ncf := cf.DeepCopy()
	ncf.RootFS.DiffIDs = ncf.RootFS.DiffIDs[:n-1]
	if h := len(ncf.History); h > 0 && ncf.History[h-1].CreatedBy == historyMarker {
		ncf.History = ncf.History[:h-1]
	}
	var orig []string
	if err := json.Unmarshal([]byte(cf.Config.Labels[LabelEntrypoint]), &orig); err != nil {
		return nil, fmt.Errorf("%w: wrap labels are damaged (%s)", ErrUnsupported, LabelEntrypoint)
	}
	ncf.Config.Entrypoint = orig
	for _, l := range []string{LabelVersion, LabelInjector, LabelBundles, LabelKeys, LabelEntrypoint, LabelLayer, LabelOnly, LabelAllowNames, LabelSigners, LabelNames} {
		delete(ncf.Config.Labels, l)
	}
	if len(ncf.Config.Labels) == 0 {
		ncf.Config.Labels = nil
	}
	return mutate.ConfigFile(out, ncf)
}

// Index wraps every platform of a multi-platform index, each with the
// injector of its platform. A platform without an injector is an error,
// never a silent skip. Attestation manifests are dropped: they describe the
// images before wrapping.
func Index(idx v1.ImageIndex, o *Options) (v1.ImageIndex, int, error) {
	bundles, err := o.check()
	if err != nil {
		return nil, 0, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, 0, err
	}
	out := mutate.IndexMediaType(empty.Index, mt)
	dropped := 0
	for _, d := range im.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			dropped++
			continue
		}
		if !d.MediaType.IsImage() {
			return nil, 0, fmt.Errorf("%w: nested index or artifact %s in the index", ErrUnsupported, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, 0, err
		}
		platform := ""
		if d.Platform != nil {
			platform = d.Platform.OS + "/" + d.Platform.Architecture
		} else {
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, 0, err
			}
			platform = cf.OS + "/" + cf.Architecture
		}
		inj, err := o.injectorFor(platform)
		if err != nil {
			return nil, 0, err
		}
		w, err := wrapOne(img, inj, bundles, o)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", platform, err)
		}
		desc := v1.Descriptor{Platform: d.Platform, Annotations: d.Annotations}
		out = mutate.AppendManifests(out, mutate.IndexAddendum{Add: w, Descriptor: desc})
	}
	return out, dropped, nil
}
