package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/imageref"
)

// Store is the narrow core every transport implements: the root document
// and blobs as raw streams, each blob checked against its descriptor as it
// is read ([Verify]). Everything else (image walking, layer reading) is the
// audit's, shared.
type Store interface {
	// Root returns the top manifest or index, with its media type.
	Root(ctx context.Context) ([]byte, types.MediaType, error)
	// Blob opens the blob d names; reading it to its end fails when its
	// size or digest is not d's.
	Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
	Close() error
}

// ManifestStore is implemented by stores whose manifests are not blobs
// (a registry serves them on their own endpoint).
type ManifestStore interface {
	Manifest(ctx context.Context, d v1.Descriptor) ([]byte, error)
}

// Manifest reads the manifest d names, as a blob unless the store says
// otherwise.
func Manifest(ctx context.Context, st Store, d v1.Descriptor) ([]byte, error) {
	if ms, ok := st.(ManifestStore); ok {
		return ms.Manifest(ctx, d)
	}
	rc, err := st.Blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return ReadDoc(rc)
}

// LegacyStore is implemented by docker-archive files without an OCI index:
// their manifest.json names files, not digests.
type LegacyStore interface {
	Legacy() ([]LegacyImage, error)
}

// LegacyImage is an image manifest.json names: its first tag, and its
// config and layers as files of the archive, which Open opens.
type LegacyImage struct {
	Tag    string
	Config string
	Layers []string
	Open   func(path string) (io.ReadCloser, error)
}

// ManifestJSON is implemented by a docker-archive that holds a
// manifest.json: its bytes, searched as a document of their own.
type ManifestJSON interface {
	ManifestJSON() []byte
}

// ErrNoRoot says a store has no OCI root to walk, only a legacy view.
var ErrNoRoot = errors.New("no OCI index")

// MaxManifest bounds a JSON document (a manifest, a config, an
// attestation) read whole.
const MaxManifest = 64 << 20

// Options are what opening a transport needs.
type Options struct {
	Insecure   bool   // allow a plain-HTTP registry
	DaemonHost string // the Docker or Podman API address, for docker-daemon:
	TempDir    string // where docker-daemon: buffers the saved image
}

// Open opens the store of a transport, in place: archives are indexed once
// and read by offset, a daemon's image is saved to a file (removed by
// Close). It returns the store and the label reports give it.
func Open(ctx context.Context, ref imageref.Ref, o Options) (Store, string, error) {
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
		return &tempStore{Store: st, path: p}, ref.String(), nil
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
	Store
	path string
}

func (t *tempStore) Legacy() ([]LegacyImage, error) {
	if ls, ok := t.Store.(LegacyStore); ok {
		return ls.Legacy()
	}
	return nil, nil
}

func (t *tempStore) Close() error {
	err := t.Store.Close()
	os.Remove(t.path)
	return err
}

// ReadDoc reads a JSON document (a manifest, a config, an attestation) to
// its end, which verifies its digest; one larger than MaxManifest is an
// error, never a truncated read.
func ReadDoc(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxManifest+1))
	if err == nil && len(b) > MaxManifest {
		err = fmt.Errorf("larger than %d MiB", MaxManifest>>20)
	}
	return b, err
}

// BlobPath is where a blob is in an OCI layout or archive.
func BlobPath(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// CleanPath is p relative to the root, cleaned: how archives and findings
// name files.
func CleanPath(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}
