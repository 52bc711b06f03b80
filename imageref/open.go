package imageref

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sealenv/sealenv/internal/fsutil"
)

// Options tune Open and Write.
type Options struct {
	// Insecure allows plain-HTTP registries.
	Insecure bool
	// DaemonHost is the engine API address for docker-daemon: (see
	// [SaveDaemon]); TempDir is where its save is buffered.
	DaemonHost, TempDir string
}

func (o Options) remote(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

func (o Options) name() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Source is an opened image or index. Exactly one of Image and Index is set.
type Source struct {
	Image v1.Image
	Index v1.ImageIndex
	close func()
}

// Close releases temporary files (an unpacked oci-archive, a daemon save).
func (s *Source) Close() {
	if s.close != nil {
		s.close()
	}
}

// Open reads the image r names as go-containerregistry values. An
// oci-archive is unpacked to a temporary directory, a docker-daemon image
// saved to a temporary file; both are removed by Close.
func Open(ctx context.Context, r Ref, o Options) (*Source, error) {
	switch r.Transport {
	case Docker:
		ref, err := name.ParseReference(r.Name, o.name()...)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r, err)
		}
		desc, err := remote.Get(ref, o.remote(ctx)...)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r, err)
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			return &Source{Index: idx}, err
		}
		img, err := desc.Image()
		return &Source{Image: img}, err
	case DockerArchive:
		return openDockerArchive(r.Path, r.Name, nil)
	case OCIArchive:
		return openOCIArchive(r.Path, r.Name)
	case OCI:
		return openLayout(r.Path, r.Name, nil)
	case DockerDaemon:
		p, err := SaveDaemon(ctx, r.Name, o.DaemonHost, o.TempDir)
		if err != nil {
			return nil, err
		}
		s, err := openDockerArchive(p, "", func() { os.Remove(p) })
		if err != nil {
			os.Remove(p)
			return nil, fmt.Errorf("%s: %v", r, err)
		}
		return s, nil
	}
	st, err := os.Stat(r.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Path, fsutil.Reason(err))
	}
	if st.IsDir() {
		return openLayout(r.Path, "", nil)
	}
	names, err := tarNames(r.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: not an image archive or OCI layout: %v", r.Path, err)
	}
	switch {
	case names["index.json"] && names["oci-layout"]:
		return openOCIArchive(r.Path, "")
	case names["manifest.json"]:
		return openDockerArchive(r.Path, "", nil)
	}
	return nil, fmt.Errorf("%s: not an image archive (no manifest.json or index.json)", r.Path)
}

func tarNames(p string) (map[string]bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(h.Name, "./")] = true
	}
}

func openDockerArchive(p, tag string, cleanup func()) (*Source, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(p) }
	var t *name.Tag
	if tag != "" {
		nt, err := name.NewTag(tag)
		if err != nil {
			return nil, fmt.Errorf("docker-archive:%s: tag %q: %v", p, tag, err)
		}
		t = &nt
	}
	img, err := tarball.Image(opener, t)
	if err != nil {
		return nil, fmt.Errorf("docker-archive:%s: %v", p, err)
	}
	if _, err := img.Manifest(); err != nil {
		return nil, fmt.Errorf("docker-archive:%s: %v", p, err)
	}
	return &Source{Image: img, close: cleanup}, nil
}

func openLayout(dir, tag string, cleanup func()) (*Source, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, fmt.Errorf("oci:%s: %v", dir, err)
	}
	fail := func(err error) (*Source, error) {
		if cleanup != nil {
			cleanup()
		}
		return nil, fmt.Errorf("oci:%s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fail(err)
	}
	// Without a tag the layout's one image is meant; referrers beside it
	// (an attestation attached to it) do not count.
	var pick *v1.Descriptor
	images := 0
	for i, d := range im.Manifests {
		if tag == "" && !IsReferrer(d) {
			images++
			pick = &im.Manifests[i]
		}
		if tag != "" && d.Annotations["org.opencontainers.image.ref.name"] == tag {
			pick = &im.Manifests[i]
			break
		}
	}
	if tag == "" && images != 1 {
		pick = nil
	}
	if pick == nil {
		if tag == "" {
			return fail(fmt.Errorf("the layout holds %d manifests; name one with oci:DIR:TAG", len(im.Manifests)))
		}
		return fail(fmt.Errorf("no manifest tagged %q", tag))
	}
	if pick.MediaType.IsIndex() {
		child, err := idx.ImageIndex(pick.Digest)
		if err != nil {
			return fail(err)
		}
		return &Source{Index: child, close: cleanup}, nil
	}
	img, err := idx.Image(pick.Digest)
	if err != nil {
		return fail(err)
	}
	return &Source{Image: img, close: cleanup}, nil
}

func openOCIArchive(p, tag string) (*Source, error) {
	dir, err := os.MkdirTemp("", "sealenv-wrap-*")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := untar(p, dir); err != nil {
		cleanup()
		return nil, fmt.Errorf("oci-archive:%s: %v", p, err)
	}
	return openLayout(dir, tag, cleanup)
}

// untar unpacks an OCI archive's regular files and directories only, and
// refuses paths that leave dir.
func untar(p, dir string) error {
	f, err := os.Open(p)
	if err != nil {
		return fsutil.Reason(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected %q entry of type %c in an OCI archive", h.Name, h.Typeflag)
		}
	}
}

// DefaultArchiveName is the name (RepoTags) of an image Write puts in a
// docker-archive:FILE without a NAME:TAG: docker load and podman load tag
// it so, instead of leaving an untagged image behind.
const DefaultArchiveName = "sealenv/wrapped:latest"

// ErrDestinationUsed is returned by Write for a destination that exists,
// unless it may be replaced.
var ErrDestinationUsed = errors.New("destination exists")

// Write stores an image or index at dest: oci:DIR[:TAG], oci-archive:FILE[:TAG],
// docker-archive:FILE[:NAME:TAG], docker-daemon:NAME[:TAG] (one image,
// loaded into a Docker or Podman engine, see [LoadDaemon]) or docker://REF.
// Local destinations are written next to their target and renamed into
// place, so a failure leaves nothing behind; an existing target is an
// error unless replace. An engine's tag is moved, as docker load does.
func Write(ctx context.Context, dest Ref, img v1.Image, idx v1.ImageIndex, replace bool, o Options) error {
	switch dest.Transport {
	case DockerDaemon:
		if idx != nil {
			return fmt.Errorf("%s: %w; write a multi-platform image to oci:DIR, oci-archive:FILE or docker://REF", dest, ErrOneImage)
		}
		t, err := name.NewTag(dest.Name)
		if err != nil {
			return fmt.Errorf("%s: want NAME[:TAG]: %v", dest, err)
		}
		return LoadDaemon(ctx, t, img, o.DaemonHost)
	case Docker:
		r, err := name.ParseReference(dest.Name, o.name()...)
		if err != nil {
			return fmt.Errorf("%s: %v", dest, err)
		}
		opts := o.remote(ctx)
		if idx != nil {
			err = remote.WriteIndex(r, idx, opts...)
		} else {
			err = remote.Write(r, img, opts...)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", dest, err)
		}
		return nil
	case DockerArchive:
		p, tag := dest.Path, dest.Name
		if idx != nil {
			return fmt.Errorf("%s: %w; write a multi-platform image to oci:DIR, oci-archive:FILE or docker://REF", dest, ErrOneImage)
		}
		if tag == "" {
			tag = DefaultArchiveName
		}
		t, err := name.NewTag(tag)
		if err != nil {
			return fmt.Errorf("%s: tag %q: %v", dest, tag, err)
		}
		return replaceFile(p, replace, func(tmp string) error { return tarball.WriteToFile(tmp, t, img) })
	case OCIArchive:
		p, tag := dest.Path, dest.Name
		return replaceFile(p, replace, func(tmp string) error {
			dir, err := os.MkdirTemp(filepath.Dir(tmp), ".sealenv-layout-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if err := writeLayout(dir, tag, img, idx); err != nil {
				return err
			}
			return tarDir(dir, tmp)
		})
	case OCI:
		p, tag := dest.Path, dest.Name
		if _, err := os.Stat(p); err == nil && !replace {
			return fmt.Errorf("%w: %s", ErrDestinationUsed, p)
		}
		tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(p)), "."+filepath.Base(p)+".tmp-*")
		if err != nil {
			return fmt.Errorf("%s: %v", dest, fsutil.Reason(err))
		}
		if err := writeLayout(tmp, tag, img, idx); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("%s: %v", dest, err)
		}
		if replace {
			if _, err := os.Stat(p); err == nil {
				// Only ever replace an OCI layout, never an arbitrary folder.
				if _, err := os.Stat(filepath.Join(p, "oci-layout")); err != nil {
					os.RemoveAll(tmp)
					return fmt.Errorf("%s: exists and is not an OCI layout; it is never replaced", dest)
				}
			}
			os.RemoveAll(p)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("%s: %v", dest, fsutil.Reason(err))
		}
		return nil
	}
	return fmt.Errorf("%s: not a destination (want oci:DIR, oci-archive:FILE, docker-archive:FILE, docker-daemon:NAME or docker://REF)", dest)
}

// ErrOneImage: a docker archive and a Docker Engine hold one image of one
// platform, without attestations or an index.
var ErrOneImage = errors.New("takes one image of one platform")

func writeLayout(dir, tag string, img v1.Image, idx v1.ImageIndex) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if tag != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}))
	}
	if idx != nil {
		return p.AppendIndex(idx, opts...)
	}
	return p.AppendImage(img, opts...)
}

// replaceFile runs write on a temporary file next to path and renames it
// into place.
func replaceFile(path string, replace bool, write func(tmp string) error) error {
	if _, err := os.Stat(path); err == nil && !replace {
		return fmt.Errorf("%w: %s", ErrDestinationUsed, path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %v", path, fsutil.Reason(err))
	}
	tmp := f.Name()
	f.Close()
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %v", path, err)
	}
	// An image holds no secret it may not hold (the audit sees to that):
	// the archive gets a file's usual mode, not CreateTemp's 0600.
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %v", path, fsutil.Reason(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %v", path, fsutil.Reason(err))
	}
	return nil
}

// epoch is the time of every entry of a written oci-archive.
var epoch = time.Unix(0, 0).UTC()

// tarDir writes dir as a tar with sorted entries and fixed times.
func tarDir(dir, dest string) error {
	var paths []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	out, err := os.Create(dest)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	for _, p := range paths {
		if err = addToTar(tw, dir, p); err != nil {
			break
		}
	}
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func addToTar(tw *tar.Writer, dir, p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Mode: 0o644, Typeflag: tar.TypeReg, Size: info.Size(), Format: tar.FormatPAX}
	if info.IsDir() {
		h.Name += "/"
		h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if info.IsDir() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// IsReferrer reports whether an entry of an index is an artifact about
// another manifest (an attestation or a signature attached to an image)
// rather than an image: its artifactType is not an image config's media
// type (go-containerregistry gives images their config's), or Docker marks
// it as an attestation manifest.
func IsReferrer(d v1.Descriptor) bool {
	at := types.MediaType(d.ArtifactType)
	return d.ArtifactType != "" && !at.IsConfig() || d.Annotations["vnd.docker.reference.type"] == "attestation-manifest"
}
