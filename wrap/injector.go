package wrap

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sealenv/sealenv/internal/version"
)

// ErrNotInjector is returned for a binary that is not a sealenv injector of
// a contract this sealenv can use; see [CheckInjector].
var ErrNotInjector = errors.New("not a sealenv injector")

// InjectorInfo is what [CheckInjector] learned about an injector binary.
type InjectorInfo struct {
	Platform string // "linux/amd64"
	Package  string // the main package its Go build information names
	Module   string // the main module's version Go recorded ("(devel)" for a local build)
	Contract int    // the wrap contract it carries
}

var contractPattern = regexp.MustCompile(`sealenv-inject-contract: ([0-9]{1,4})\n`)

// CheckInjector verifies that data is a sealenv injector that a wrapped
// entrypoint can rely on: a static linux ELF executable whose Go build
// information names the module's cmd/sealenv-inject main package, and which
// carries the wrap contract of this sealenv (see [version.Contract]). It
// reads the binary only; it never runs it, so an injector for another
// architecture is checked too.
func CheckInjector(data []byte) (InjectorInfo, error) {
	var in InjectorInfo
	platform, err := ELFPlatform(data)
	if err != nil {
		return in, fmt.Errorf("%w: %v", ErrNotInjector, err)
	}
	in.Platform = platform
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return in, fmt.Errorf("%w: %v", ErrNotInjector, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return in, fmt.Errorf("%w: an ELF %v file, not an executable", ErrNotInjector, f.Type)
	}
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return in, fmt.Errorf("%w: no Go build information (not a Go program)", ErrNotInjector)
	}
	in.Package, in.Module = bi.Path, bi.Main.Version
	if bi.Path != version.MainInjector {
		return in, fmt.Errorf("%w: its Go build information names the main package %q, not %s", ErrNotInjector, bi.Path, version.MainInjector)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return in, fmt.Errorf("%w: dynamically linked (it needs a C library the image may not have); build it with CGO_ENABLED=0", ErrNotInjector)
		}
	}
	m := contractPattern.FindSubmatch(data)
	if m == nil {
		return in, fmt.Errorf("%w: it carries no wrap contract (built before sealenv recorded one); use the sealenv-inject of this sealenv's release", ErrNotInjector)
	}
	in.Contract, _ = strconv.Atoi(string(m[1])) // the pattern allows digits only
	if in.Contract != version.Contract {
		return in, fmt.Errorf("%w: it has wrap contract %d, this sealenv writes entrypoints for contract %d; use the sealenv-inject of this sealenv's release", ErrNotInjector, in.Contract, version.Contract)
	}
	return in, nil
}

// maxInjectorSize bounds what is read for an injector from an image.
const maxInjectorSize = 64 << 20

// InjectorsFromImage reads the injector at [InjectorPath] from every
// platform of an injector image (ghcr.io/sealenv/sealenv-inject, built by
// Dockerfile.inject): img, or every image of idx. Attestation manifests are
// skipped. A platform whose image lacks the file, or holds something other
// than a regular file there, is an error.
func InjectorsFromImage(img v1.Image, idx v1.ImageIndex) ([]Injector, error) {
	if img != nil {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the image config: %w", err)
		}
		data, err := fileFromImage(img, InjectorPath)
		if err != nil {
			return nil, err
		}
		return []Injector{{Platform: platformString(cf.OS, cf.Architecture, cf.Variant), Data: data}}, nil
	}
	if idx == nil {
		return nil, fmt.Errorf("%w: no image", ErrUnsupported)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Injector
	for _, d := range im.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if d.Platform != nil && d.Platform.OS == "unknown" {
			continue
		}
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("%w: nested index or artifact %s in the injector image", ErrUnsupported, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		var platform string
		if d.Platform != nil {
			platform = platformString(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant)
		} else {
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, err
			}
			platform = platformString(cf.OS, cf.Architecture, cf.Variant)
		}
		data, err := fileFromImage(img, InjectorPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", platform, err)
		}
		out = append(out, Injector{Platform: platform, Data: data})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the injector image has no platform image", ErrUnsupported)
	}
	return out, nil
}

func platformString(os, arch, variant string) string {
	p := os + "/" + arch
	if variant != "" {
		p += "/" + variant
	}
	return p
}

// fileFromImage returns the content of the regular file at p as the image's
// layers leave it: the top-most layer that has or deletes it decides.
func fileFromImage(img v1.Image, p string) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the image's layers: %w", err)
	}
	want := strings.TrimPrefix(path.Clean(p), "/")
	for i := len(layers) - 1; i >= 0; i-- {
		data, found, err := fileFromLayer(layers[i], want)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if found {
			if data == nil {
				return nil, fmt.Errorf("%w: %s is deleted in layer %d", ErrNoInjector, p, i)
			}
			return data, nil
		}
	}
	return nil, fmt.Errorf("%w: the image has no %s", ErrNoInjector, p)
}

// fileFromLayer looks for want (a clean path without a leading slash) in one
// layer. found with nil data means a whiteout deletes it.
func fileFromLayer(l v1.Layer, want string) (data []byte, found bool, err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	dir, base := path.Split(want)
	opaque := false // an opaque directory above want hides the lower layers
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, opaque, nil
		}
		if err != nil {
			return nil, false, err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		hdir, hbase := path.Split(name)
		switch {
		case name == want:
			if h.Typeflag != tar.TypeReg {
				return nil, true, fmt.Errorf("%s is not a regular file (tar type %q)", want, h.Typeflag)
			}
			if h.Size > maxInjectorSize {
				return nil, true, fmt.Errorf("%s has %d bytes, more than an injector can have", want, h.Size)
			}
			b, err := io.ReadAll(io.LimitReader(tr, maxInjectorSize))
			return b, true, err
		case hdir == dir && hbase == ".wh."+base:
			return nil, true, nil
		case hbase == ".wh..wh..opq" && strings.HasPrefix(dir, hdir):
			opaque = true
		}
	}
}
