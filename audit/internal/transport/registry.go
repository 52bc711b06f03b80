package transport

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// registryStore reads docker://, a registry.
type registryStore struct {
	ref  name.Reference
	opts []remote.Option
}

func openRegistry(ctx context.Context, s string, o Options) (Store, string, error) {
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

func (s *registryStore) Root(ctx context.Context) ([]byte, types.MediaType, error) {
	d, err := remote.Get(s.ref, s.with(ctx)...)
	if err != nil {
		return nil, "", err
	}
	return d.Manifest, d.MediaType, nil
}

func (s *registryStore) Manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	g, err := remote.Get(s.ref.Context().Digest(d.Digest.String()), s.with(ctx)...)
	if err != nil {
		return nil, err
	}
	return g.Manifest, nil
}

func (s *registryStore) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	l, err := remote.Layer(s.ref.Context().Digest(d.Digest.String()), s.with(ctx)...)
	if err != nil {
		return nil, err
	}
	return l.Compressed() // verified against the digest as it streams
}

func (s *registryStore) Close() error { return nil }
