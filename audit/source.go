package audit

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/imageref"
)

// store is the narrow core every transport implements: the root document
// and blobs as raw streams. Everything else (image walking, layer reading,
// verification) is shared.
type store interface {
	// root returns the top manifest or index, with its media type.
	root(ctx context.Context) ([]byte, types.MediaType, error)
	blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
	close() error
}

// manifestStore is implemented by stores whose manifests are not blobs
// (a registry serves them on their own endpoint).
type manifestStore interface {
	manifest(ctx context.Context, d v1.Descriptor) ([]byte, error)
}

// manifest reads the manifest d names, as a blob unless the store says
// otherwise.
func manifest(ctx context.Context, st store, d v1.Descriptor) ([]byte, error) {
	if ms, ok := st.(manifestStore); ok {
		return ms.manifest(ctx, d)
	}
	rc, err := st.blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readDoc(rc)
}

// legacyStore is implemented by docker-archive files without an OCI index:
// their manifest.json names files, not digests.
type legacyStore interface {
	legacy() ([]legacyImage, error)
}

type legacyImage struct {
	tag    string
	config string
	layers []string
	open   func(path string) (io.ReadCloser, error)
}

// openSource opens the store of a transport, in place: archives are
// indexed once and read by offset, a daemon's image is saved to a file.
func openSource(ctx context.Context, ref imageref.Ref, o *Options) (store, string, error) {
	switch ref.Transport {
	case imageref.Docker:
		return openRegistry(ctx, ref.Name, o)
	case imageref.DockerArchive, imageref.OCIArchive:
		st, _, err := openArchive(ref.Path, ref.Name)
		return st, ref.String(), err
	case imageref.OCI:
		return openLayout(ref.Path, ref.Name)
	case imageref.DockerDaemon:
		p, err := imageref.SaveDaemon(ctx, ref.Name, o.DaemonHost, o.TempDir)
		if err != nil {
			return nil, "", err
		}
		st, _, err := openArchive(p, "")
		if err != nil {
			os.Remove(p)
			return nil, "", fmt.Errorf("%s: %w", ref, err)
		}
		return &tempStore{store: st, path: p}, ref.String(), nil
	}
	fi, err := os.Stat(ref.Path)
	if err != nil {
		return nil, "", fmt.Errorf("%s: not a file or directory, and no transport prefix (docker-archive:, oci-archive:, oci:, docker-daemon:, docker://)", ref.Path)
	}
	if fi.IsDir() {
		return openLayout(ref.Path, "")
	}
	return openArchive(ref.Path, "")
}

// tempStore removes its buffer file when closed.
type tempStore struct {
	store
	path string
}

func (t *tempStore) legacy() ([]legacyImage, error) {
	if ls, ok := t.store.(legacyStore); ok {
		return ls.legacy()
	}
	return nil, nil
}

func (t *tempStore) close() error {
	err := t.store.close()
	os.Remove(t.path)
	return err
}

// --- oci: a directory in the OCI image layout

type layoutStore struct {
	p   layout.Path
	tag string
}

func openLayout(dir, tag string) (store, string, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("oci:%s: %w", dir, err)
	}
	return &layoutStore{p: p, tag: tag}, "oci:" + dir, nil
}

func (s *layoutStore) root(ctx context.Context) ([]byte, types.MediaType, error) {
	b, err := os.ReadFile(path.Join(string(s.p), "index.json"))
	if err != nil {
		return nil, "", err
	}
	if s.tag != "" {
		b, err = selectTag(b, s.tag)
	}
	return b, types.OCIImageIndex, err
}

var errNoSuchName = errors.New("no image named")

// nameMatches reports whether an image named by the user (NAME:TAG, or a
// tag alone) is one of the names an archive records for it.
func nameMatches(want string, names ...string) bool {
	norm := func(s string) string {
		if t, err := name.NewTag(s); err == nil {
			return t.Name()
		}
		return s
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		if n == want || strings.HasSuffix(n, ":"+want) || norm(n) == norm(want) {
			return true
		}
	}
	return false
}

// selectTag keeps the index entries named tag.
func selectTag(index []byte, tag string) ([]byte, error) {
	im, err := v1.ParseIndexManifest(strings.NewReader(string(index)))
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var keep []v1.Descriptor
	for _, d := range im.Manifests {
		if nameMatches(tag, d.Annotations["org.opencontainers.image.ref.name"], d.Annotations["io.containerd.image.name"]) {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("%w %q in index.json", errNoSuchName, tag)
	}
	im.Manifests = keep
	return json.Marshal(im)
}

func (s *layoutStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	rc, err := s.p.Blob(d.Digest)
	if err != nil {
		return nil, err
	}
	return verify(rc, d)
}

func (s *layoutStore) close() error { return nil }

const maxManifest = 64 << 20

// --- docker-archive and oci-archive: a tar file, indexed once, read in place

type archiveStore struct {
	f            *os.File
	entries      map[string]*io.SectionReader
	manifestJSON []byte
	name         string // the image asked for (NAME:TAG); "" for every image
	named        bool   // the legacy view had an image of that name
}

// countingFile tracks the offset of a file read by archive/tar, which seeks
// over entry data it is not asked for.
type countingFile struct {
	f   *os.File
	off int64
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.off += int64(n)
	return n, err
}

func (c *countingFile) Seek(off int64, whence int) (int64, error) {
	n, err := c.f.Seek(off, whence)
	if err == nil {
		c.off = n
	}
	return n, err
}

func openArchive(p, imageName string) (store, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, "", err
	}
	s := &archiveStore{f: f, entries: map[string]*io.SectionReader{}, name: imageName}
	cf := &countingFile{f: f}
	tr := tar.NewReader(cf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, "", fmt.Errorf("%s: not an image archive: %w", p, err)
		}
		name := cleanPath(h.Name)
		if s.entries[name] != nil {
			// docker load and skopeo would each take one of them; the
			// audit cannot know which.
			f.Close()
			return nil, "", fmt.Errorf("%s: the image archive holds %s twice", p, name)
		}
		if h.Typeflag == tar.TypeReg {
			s.entries[name] = io.NewSectionReader(f, cf.off, h.Size)
		}
	}
	kind := "docker-archive:"
	if s.entries["manifest.json"] == nil {
		if s.entries["index.json"] == nil {
			f.Close()
			return nil, "", fmt.Errorf("%s: not an image archive: no manifest.json or index.json", p)
		}
		kind = "oci-archive:"
	}
	return s, kind + p, nil
}

func (s *archiveStore) file(name string) (io.ReadCloser, error) {
	sr := s.entries[cleanPath(name)]
	if sr == nil {
		return nil, fmt.Errorf("%s: not in the archive", name)
	}
	return io.NopCloser(io.NewSectionReader(sr, 0, sr.Size())), nil
}

func (s *archiveStore) root(ctx context.Context) ([]byte, types.MediaType, error) {
	rc, err := s.file("index.json")
	if err != nil {
		return nil, "", err
	}
	b, err := readDoc(rc)
	if err == nil && s.name != "" {
		b, err = selectTag(b, s.name)
		if errors.Is(err, errNoSuchName) && s.named {
			// Only manifest.json names it (docker save of Docker 24).
			return nil, "", errNoRoot
		}
	}
	return b, types.OCIImageIndex, err
}

// errNoRoot says a store has no OCI root to walk, only a legacy view.
var errNoRoot = errors.New("no OCI index")

func (s *archiveStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	rc, err := s.file(blobPath(d.Digest))
	if err != nil {
		return nil, err
	}
	return verify(rc, d)
}

func (s *archiveStore) close() error { return s.f.Close() }

// legacy reads manifest.json of docker save. Docker 25 and later write an
// OCI index.json beside it: docker load reads manifest.json, other tools
// the index, so both views are audited (see auditor.walk).
func (s *archiveStore) legacy() ([]legacyImage, error) {
	if s.entries["manifest.json"] == nil {
		return nil, nil
	}
	rc, _ := s.file("manifest.json")
	raw, err := readDoc(rc)
	if err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	s.manifestJSON = raw
	var m []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []legacyImage
	for _, e := range m {
		if s.name != "" && !nameMatches(s.name, e.RepoTags...) {
			continue
		}
		li := legacyImage{config: e.Config, layers: e.Layers, open: s.file}
		if len(e.RepoTags) > 0 {
			li.tag = e.RepoTags[0]
		}
		out = append(out, li)
	}
	if s.name != "" && len(out) > 0 {
		s.named = true
	}
	if s.name != "" && len(out) == 0 && s.entries["index.json"] == nil {
		return nil, fmt.Errorf("%w %q in manifest.json", errNoSuchName, s.name)
	}
	return out, nil
}

// --- docker://: a registry

type registryStore struct {
	ref  name.Reference
	opts []remote.Option
}

func openRegistry(ctx context.Context, s string, o *Options) (store, string, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(s, nopts...)
	if err != nil {
		return nil, "", fmt.Errorf("docker://%s: %w", s, err)
	}
	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	return &registryStore{ref: ref, opts: opts}, "docker://" + ref.String(), nil
}

func (s *registryStore) with(ctx context.Context) []remote.Option {
	return append(append([]remote.Option(nil), s.opts...), remote.WithContext(ctx))
}

func (s *registryStore) root(ctx context.Context) ([]byte, types.MediaType, error) {
	d, err := remote.Get(s.ref, s.with(ctx)...)
	if err != nil {
		return nil, "", err
	}
	return d.Manifest, d.MediaType, nil
}

func (s *registryStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	g, err := remote.Get(s.ref.Context().Digest(d.Digest.String()), s.with(ctx)...)
	if err != nil {
		return nil, err
	}
	return g.Manifest, nil
}

func (s *registryStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	l, err := remote.Layer(s.ref.Context().Digest(d.Digest.String()), s.with(ctx)...)
	if err != nil {
		return nil, err
	}
	return l.Compressed() // verified against the digest as it streams
}

func (s *registryStore) close() error { return nil }

// verify checks a blob against its descriptor's size and digest as it is
// read: a truncated or altered blob fails at its end, and a digest in an
// algorithm the OCI spec does not register fails at once.
func verify(rc io.ReadCloser, d v1.Descriptor) (io.ReadCloser, error) {
	var h hash.Hash
	switch d.Digest.Algorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		rc.Close()
		return nil, fmt.Errorf("blob %s: cannot verify a digest of algorithm %q", d.Digest, d.Digest.Algorithm)
	}
	if len(d.Digest.Hex) != 2*h.Size() {
		rc.Close()
		return nil, fmt.Errorf("blob %s: malformed digest", d.Digest)
	}
	return &verifier{rc: rc, h: h, alg: d.Digest.Algorithm, want: d.Digest.Hex, size: d.Size}, nil
}

type verifier struct {
	rc   io.ReadCloser
	h    hash.Hash
	alg  string
	want string
	size int64
	n    int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		if v.size > 0 && v.n != v.size {
			return n, fmt.Errorf("blob %s:%s: read %d bytes, the manifest says %d: %w", v.alg, short(v.want), v.n, v.size, io.ErrUnexpectedEOF)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("blob %s:%s: digest mismatch (got %s:%s)", v.alg, short(v.want), v.alg, short(got))
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
