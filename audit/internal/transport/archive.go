package transport

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archiveStore reads docker-archive: and oci-archive:, a tar file, indexed
// once, read in place.
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

func openArchive(p, imageName string) (Store, string, error) {
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
		name := CleanPath(h.Name)
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
	sr := s.entries[CleanPath(name)]
	if sr == nil {
		return nil, fmt.Errorf("%s: not in the archive", name)
	}
	return io.NopCloser(io.NewSectionReader(sr, 0, sr.Size())), nil
}

func (s *archiveStore) Root(ctx context.Context) ([]byte, types.MediaType, error) {
	rc, err := s.file("index.json")
	if err != nil {
		return nil, "", err
	}
	b, err := ReadDoc(rc)
	if err == nil && s.name != "" {
		b, err = selectTag(b, s.name)
		if errors.Is(err, errNoSuchName) && s.named {
			// Only manifest.json names it (docker save of Docker 24).
			return nil, "", ErrNoRoot
		}
	}
	return b, types.OCIImageIndex, err
}

func (s *archiveStore) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	rc, err := s.file(BlobPath(d.Digest))
	if err != nil {
		return nil, err
	}
	return Verify(rc, d)
}

func (s *archiveStore) Close() error { return s.f.Close() }

// Legacy reads manifest.json of docker save. Docker 25 and later write an
// OCI index.json beside it: docker load reads manifest.json, other tools
// the index, so both views are audited (see auditor.walk).
func (s *archiveStore) Legacy() ([]LegacyImage, error) {
	if s.entries["manifest.json"] == nil {
		return nil, nil
	}
	rc, _ := s.file("manifest.json")
	raw, err := ReadDoc(rc)
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
	var out []LegacyImage
	for _, e := range m {
		if s.name != "" && !nameMatches(s.name, e.RepoTags...) {
			continue
		}
		li := LegacyImage{Config: e.Config, Layers: e.Layers, Open: s.file}
		if len(e.RepoTags) > 0 {
			li.Tag = e.RepoTags[0]
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

// ManifestJSON returns manifest.json as Legacy read it (nil before).
func (s *archiveStore) ManifestJSON() []byte { return s.manifestJSON }
