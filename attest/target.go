package attest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/fsutil"
)

// Options tune how images and their attestations are read and written.
type Options struct {
	// Insecure allows plain-HTTP registries.
	Insecure bool
}

func (o Options) name() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (o Options) remote(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// Target is an image an attestation is about: where it is, and the
// descriptor (media type, digest, size) of its manifest or index as the
// registry or the OCI layout stores it.
type Target struct {
	Ref        imageref.Ref
	Descriptor v1.Descriptor
	// Name is the subject's name: the repository of a registry image (as
	// cosign names it), the tag of a layout image, or "image".
	Name string
}

// Subject is the in-toto subject of t.
func (t Target) Subject() Subject {
	return Subject{Name: t.Name, Digest: map[string]string{t.Descriptor.Digest.Algorithm: t.Descriptor.Digest.Hex}}
}

// ErrNoDigest is returned for an image kept where nothing knows it by a
// manifest digest: a docker archive or a Docker engine's image store.
var ErrNoDigest = errors.New("no manifest digest a registry or an OCI layout knows the image by")

// Resolve finds the manifest or index ref names: in a registry (docker://),
// an OCI layout (oci:) or an OCI archive (oci-archive:). A layout without a
// tag must hold one image (its attestations aside).
func Resolve(ctx context.Context, ref imageref.Ref, o Options) (Target, error) {
	return locate(ctx, ref, v1.Hash{}, o)
}

// Locate finds the manifest or index with digest d where ref says (a
// registry repository, a layout or an OCI archive), as a write left it.
func Locate(ctx context.Context, ref imageref.Ref, d v1.Hash, o Options) (Target, error) {
	if d.Hex == "" {
		return Target{}, fmt.Errorf("%s: no digest to look for", ref)
	}
	return locate(ctx, ref, d, o)
}

func locate(ctx context.Context, ref imageref.Ref, d v1.Hash, o Options) (Target, error) {
	ref, err := kind(ref)
	if err != nil {
		return Target{}, err
	}
	switch ref.Transport {
	case imageref.Docker:
		r, err := name.ParseReference(ref.Name, o.name()...)
		if err != nil {
			return Target{}, fmt.Errorf("%s: %v", ref, err)
		}
		if d.Hex != "" {
			r = r.Context().Digest(d.String())
		}
		desc, err := head(ctx, r, o)
		if err != nil {
			return Target{}, fmt.Errorf("%s: %v", ref, err)
		}
		if d.Hex != "" && desc.Digest != d {
			return Target{}, fmt.Errorf("%s: the registry answers %s for %s", ref, desc.Digest, d)
		}
		return Target{Ref: ref, Descriptor: v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, Name: r.Context().Name()}, nil
	case imageref.OCI, imageref.OCIArchive:
		l, err := openLayout(ref)
		if err != nil {
			return Target{}, err
		}
		defer l.close()
		desc, err := l.pick(ref.Name, d)
		if err != nil {
			return Target{}, fmt.Errorf("%s: %w", ref, err)
		}
		n := desc.Annotations[refNameAnnotation]
		if n == "" {
			n = "image"
		}
		return Target{Ref: ref, Descriptor: v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, Name: n}, nil
	}
	return Target{}, fmt.Errorf("%s: %w", ref, ErrNoDigest)
}

// head asks the registry for a descriptor, falling back to a GET where a
// registry does not answer HEAD for manifests.
func head(ctx context.Context, r name.Reference, o Options) (*v1.Descriptor, error) {
	desc, err := remote.Head(r, o.remote(ctx)...)
	if err == nil {
		return desc, nil
	}
	got, gerr := remote.Get(r, o.remote(ctx)...)
	if gerr != nil {
		return nil, err
	}
	return &got.Descriptor, nil
}

// kind gives a bare path its transport, told by content as imageref does:
// a directory is an OCI layout; a file an OCI archive when it holds an
// oci-layout file.
func kind(ref imageref.Ref) (imageref.Ref, error) {
	if ref.Transport != "" {
		return ref, nil
	}
	st, err := os.Stat(ref.Path)
	if err != nil {
		return ref, fmt.Errorf("%s: %v", ref.Path, fsutil.Reason(err))
	}
	if st.IsDir() {
		ref.Transport = imageref.OCI
		return ref, nil
	}
	names, err := tarNames(ref.Path)
	if err != nil {
		return ref, fmt.Errorf("%s: not an image archive or OCI layout: %v", ref.Path, err)
	}
	if names["oci-layout"] && names["index.json"] {
		ref.Transport = imageref.OCIArchive
		return ref, nil
	}
	ref.Transport = imageref.DockerArchive
	return ref, nil
}

// cleanName is a tar entry's name without a leading "./".
func cleanName(n string) string { return strings.TrimPrefix(n, "./") }
