package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/client/ociindex"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sealenv/sealenv/audit"
	ifsutil "github.com/sealenv/sealenv/internal/fsutil"
)

// A cache export is written by BuildKit into a private directory (an OCI
// layout: index.json, the cache manifest, the cache config and every layer
// the export holds, intermediate stages included with mode=max). Every
// file of it is audited, each blob searched as stored and decompressed,
// archives inside opened, its digest checked on the way; only when that
// audit is clean (with the image's) are the same files copied to the
// destination: a local directory, or a registry.

// auditCache audits the cache export in dir and adds what it finds to rep:
// findings name the cache in Image, problems make rep incomplete.
func auditCache(ctx context.Context, dir string, c Cache, ao audit.Options, rep *audit.Report) error {
	var files []audit.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		want := ""
		if h, ok := strings.CutPrefix(rel, "blobs/sha256/"); ok {
			want = h
		}
		files = append(files, audit.File{Path: rel, Open: func() (io.ReadCloser, error) { return openVerified(p, want) }})
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache-to %s: reading the export: %w", c, err)
	}
	crep, err := audit.Files(ctx, files, ao)
	if err != nil {
		return fmt.Errorf("cache-to %s: auditing the export: %w", c, err)
	}
	label := "cache " + c.String()
	for _, f := range crep.Findings {
		f.Image = label
		rep.Findings = append(rep.Findings, f)
	}
	rep.Suppressed = append(rep.Suppressed, crep.Suppressed...)
	cv := crep.Coverage
	rep.Coverage.Complete = rep.Coverage.Complete && cv.Complete
	for _, e := range cv.Errors {
		rep.Coverage.Errors = append(rep.Coverage.Errors, label+": "+e)
	}
	for _, n := range cv.Notes {
		rep.Coverage.Notes = append(rep.Coverage.Notes, label+": "+n)
	}
	rep.Coverage.Files += cv.Files
	rep.Coverage.Bytes += cv.Bytes
	return nil
}

// openVerified opens p; when want is set, reading it to the end fails
// unless its SHA-256 is want.
func openVerified(p, want string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if want == "" {
		return f, nil
	}
	return &verified{f: f, h: sha256.New(), want: want}, nil
}

type verified struct {
	f    *os.File
	h    hash.Hash
	want string
}

func (v *verified) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("blob sha256:%s holds content of digest sha256:%s", v.want, got)
		}
	}
	return n, err
}

func (v *verified) Close() error { return v.f.Close() }

// cacheRoot reads the one cache manifest BuildKit's export in dir names.
func cacheRoot(dir string) (ocispecs.Descriptor, error) {
	d, err := ociindex.NewStoreIndex(dir).GetSingle()
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	if d == nil {
		return ocispecs.Descriptor{}, errors.New("the export names no cache manifest")
	}
	return *d, nil
}

// writeCache copies the audited export in dir to c's destination.
func (o *Options) writeCache(ctx context.Context, dir string, c Cache) error {
	root, err := cacheRoot(dir)
	if err != nil {
		return fmt.Errorf("cache-to %s: %w", c, err)
	}
	switch c.Type {
	case "local":
		if err := copyCache(dir, c.Attrs["dest"], root, c.Attrs["tag"]); err != nil {
			return fmt.Errorf("cache-to %s: %w", c, err)
		}
		return nil
	case "registry":
		if err := o.pushCache(ctx, dir, c.Attrs["ref"], root); err != nil {
			return fmt.Errorf("cache-to %s: %w", c, err)
		}
		return nil
	}
	return fmt.Errorf("cache-to %s: %w", c, ErrCacheType)
}

// copyCache copies the blobs of the export in dir into dest (an OCI
// layout, made when missing; existing blobs are kept), each written next
// to its target and renamed into place, then points dest's index.json at
// the cache manifest under tag (default latest), as BuildKit's local
// cache exporter does.
func copyCache(dir, dest string, root ocispecs.Descriptor, tag string) error {
	if tag == "" {
		tag = "latest"
	}
	blobs := filepath.Join(dest, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return ifsutil.Reason(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		target := filepath.Join(blobs, e.Name())
		if _, err := os.Stat(target); err == nil {
			continue // content-addressed: the same bytes
		}
		if err := copyFile(filepath.Join(dir, "blobs", "sha256", e.Name()), target); err != nil {
			return err
		}
	}
	return ociindex.NewStoreIndex(dest).Put(root, ociindex.Tag(tag))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return ifsutil.Reason(err)
	}
	tmp := out.Name()
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", dst, ifsutil.Reason(err))
	}
	return nil
}

// pushCache pushes the cache manifest root of the export in dir, and every
// blob it names, to the registry reference ref.
func (o *Options) pushCache(ctx context.Context, dir, ref string, root ocispecs.Descriptor) error {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(blobPath(dir, root.Digest.Encoded()))
	if err != nil {
		return err
	}
	var m struct {
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("the cache manifest: %w", err)
	}
	blobs := append(append([]v1.Descriptor{}, m.Manifests...), m.Layers...)
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	for _, d := range blobs {
		if d.MediaType.IsIndex() || d.MediaType.IsImage() {
			return fmt.Errorf("the cache manifest names a manifest (%s), not a blob", d.Digest)
		}
		l := &fileBlob{path: blobPath(dir, d.Digest.Hex), desc: d}
		if err := remote.WriteLayer(r.Context(), l, opts...); err != nil {
			return err
		}
	}
	return remote.Put(r, rawManifest{raw: raw, mt: types.MediaType(root.MediaType)}, opts...)
}

func blobPath(dir, hex string) string { return filepath.Join(dir, "blobs", "sha256", hex) }

// fileBlob is a blob of the export, uploaded as stored.
type fileBlob struct {
	path string
	desc v1.Descriptor
}

func (b *fileBlob) Digest() (v1.Hash, error) { return b.desc.Digest, nil }
func (b *fileBlob) DiffID() (v1.Hash, error) { return b.desc.Digest, nil }
func (b *fileBlob) Compressed() (io.ReadCloser, error) {
	return openVerified(b.path, b.desc.Digest.Hex)
}
func (b *fileBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("a cache blob is uploaded as stored")
}
func (b *fileBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *fileBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
