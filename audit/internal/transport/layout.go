package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layoutStore reads oci:, a directory in the OCI image layout.
type layoutStore struct {
	p   layout.Path
	tag string
}

func openLayout(dir, tag string) (Store, string, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("oci:%s: %w", dir, err)
	}
	return &layoutStore{p: p, tag: tag}, "oci:" + dir, nil
}

func (s *layoutStore) Root(ctx context.Context) ([]byte, types.MediaType, error) {
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

func (s *layoutStore) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	rc, err := s.p.Blob(d.Digest)
	if err != nil {
		return nil, err
	}
	return Verify(rc, d)
}

func (s *layoutStore) Close() error { return nil }
