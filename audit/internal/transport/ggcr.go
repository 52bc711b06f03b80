package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ggcrStore serves an image or index that go-containerregistry holds: the
// manifests of the images and indexes the walk reaches, and their blobs by
// digest. Every blob is still checked against its descriptor as it streams.
type ggcrStore struct {
	img v1.Image
	idx v1.ImageIndex

	mu      sync.Mutex
	indexes []v1.ImageIndex
	blobs   map[v1.Hash]func() (io.ReadCloser, error)
}

var (
	_ Store         = (*ggcrStore)(nil)
	_ ManifestStore = (*ggcrStore)(nil)
)

// Image serves an image that go-containerregistry holds (built or changed
// in memory, or opened by any of its transports).
func Image(img v1.Image) Store { return &ggcrStore{img: img} }

// Index serves an index that go-containerregistry holds.
func Index(idx v1.ImageIndex) Store { return &ggcrStore{idx: idx} }

func (s *ggcrStore) Root(ctx context.Context) ([]byte, types.MediaType, error) {
	if s.idx != nil {
		raw, err := s.idx.RawManifest()
		if err != nil {
			return nil, "", err
		}
		mt, err := s.idx.MediaType()
		s.indexes = append(s.indexes, s.idx)
		return raw, mt, err
	}
	raw, err := s.img.RawManifest()
	if err != nil {
		return nil, "", err
	}
	mt, err := s.img.MediaType()
	if err != nil {
		return nil, "", err
	}
	return raw, mt, s.register(s.img)
}

func (s *ggcrStore) Manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, idx := range s.indexes {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, c := range im.Manifests {
			if c.Digest != d.Digest {
				continue
			}
			if c.MediaType.IsIndex() {
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return nil, err
				}
				s.indexes = append(s.indexes, child)
				return child.RawManifest()
			}
			child, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			raw, err := child.RawManifest()
			if err != nil {
				return nil, err
			}
			return raw, s.registerLocked(child)
		}
	}
	return nil, fmt.Errorf("manifest %s: not in the index", d.Digest)
}

func (s *ggcrStore) register(img v1.Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registerLocked(img)
}

// registerLocked makes the config and layers of img readable by digest.
func (s *ggcrStore) registerLocked(img v1.Image) error {
	if s.blobs == nil {
		s.blobs = map[v1.Hash]func() (io.ReadCloser, error){}
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	s.blobs[m.Config.Digest] = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfg)), nil }
	for _, d := range m.Layers {
		if _, ok := s.blobs[d.Digest]; ok {
			continue
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		s.blobs[d.Digest] = l.Compressed
	}
	return nil
}

func (s *ggcrStore) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	s.mu.Lock()
	open := s.blobs[d.Digest]
	s.mu.Unlock()
	if open == nil {
		return nil, fmt.Errorf("blob %s: not in the image", d.Digest)
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	return Verify(rc, d)
}

func (s *ggcrStore) Close() error { return nil }
