package e2e

// Reading the image tarballs BuildKit writes, with the standard library only:
// the OCI layout (index.json, blobs/sha256/...) that both its "oci" and its
// "docker" exporters write, and the docker-archive manifest.json the docker
// exporter adds when there are no attestations. The tests use it to assert
// what landed where; the audit has its own reader, and agreeing with it is
// the point.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// Archive is an image tarball read into memory (test images are small).
type Archive struct {
	Path  string
	Files map[string][]byte // tar entry name -> content, regular files only
}

// ReadArchive reads every regular file of an image tarball.
func ReadArchive(t testing.TB, path string) *Archive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := &Archive{Path: path, Files: map[string][]byte{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %s: %v", path, h.Name, err)
		}
		a.Files[strings.TrimPrefix(h.Name, "./")] = b
	}
	return a
}

// tarNames lists the entry names of a tarball without keeping contents.
func tarNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		names = append(names, strings.TrimPrefix(h.Name, "./"))
	}
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Variant      string `json:"variant,omitempty"`
	} `json:"platform,omitempty"`
}

// index is an OCI image index; manifest an OCI image manifest.
type index struct {
	Manifests []Descriptor `json:"manifests"`
}

type manifest struct {
	Config Descriptor   `json:"config"`
	Layers []Descriptor `json:"layers"`
}

// Blob returns the content of a blob by digest ("sha256:...").
func (a *Archive) Blob(t testing.TB, digest string) []byte {
	t.Helper()
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok {
		t.Fatalf("%s: bad digest %q", a.Path, digest)
	}
	b, ok := a.Files["blobs/"+algo+"/"+hex]
	if !ok {
		t.Fatalf("%s: no blob %s", a.Path, digest)
	}
	return b
}

func (a *Archive) decode(t testing.TB, b []byte, v any, what string) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %s: %v", a.Path, what, err)
	}
}

// manifests walks index.json (and nested indexes) and returns every image
// manifest descriptor, attestation manifests included.
func (a *Archive) manifests(t testing.TB) []Descriptor {
	t.Helper()
	top, ok := a.Files["index.json"]
	if !ok {
		t.Fatalf("%s: no index.json", a.Path)
	}
	var out []Descriptor
	var walk func(b []byte, depth int)
	walk = func(b []byte, depth int) {
		if depth > 4 {
			t.Fatalf("%s: indexes nested too deep", a.Path)
		}
		var idx index
		a.decode(t, b, &idx, "index")
		for _, d := range idx.Manifests {
			switch d.MediaType {
			case "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json":
				walk(a.Blob(t, d.Digest), depth+1)
			default:
				out = append(out, d)
			}
		}
	}
	walk(top, 0)
	return out
}

// isAttestation tells an attestation manifest from an image manifest.
func isAttestation(d Descriptor) bool {
	return d.Annotations["vnd.docker.reference.type"] == "attestation-manifest"
}

// Config returns the image config JSON of the (single) image manifest.
func (a *Archive) Config(t testing.TB) ImageConfig {
	t.Helper()
	var imgs []Descriptor
	for _, d := range a.manifests(t) {
		if !isAttestation(d) {
			imgs = append(imgs, d)
		}
	}
	if len(imgs) != 1 {
		t.Fatalf("%s: want one image manifest, found %d", a.Path, len(imgs))
	}
	var m manifest
	a.decode(t, a.Blob(t, imgs[0].Digest), &m, "manifest")
	var c ImageConfig
	a.decode(t, a.Blob(t, m.Config.Digest), &c, "config")
	c.Layers = m.Layers
	return c
}

// ImageConfig is the part of an OCI image config the tests look at.
type ImageConfig struct {
	Config struct {
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		Comment    string `json:"comment"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
	Layers []Descriptor `json:"-"`
}

// Statement is an in-toto statement from an attestation manifest.
type Statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

// Attestations returns every in-toto statement the archive carries.
func (a *Archive) Attestations(t testing.TB) []Statement {
	t.Helper()
	var out []Statement
	for _, d := range a.manifests(t) {
		if !isAttestation(d) {
			continue
		}
		var m manifest
		a.decode(t, a.Blob(t, d.Digest), &m, "attestation manifest")
		for _, l := range m.Layers {
			if l.MediaType != "application/vnd.in-toto+json" {
				continue
			}
			var s Statement
			a.decode(t, a.Blob(t, l.Digest), &s, "in-toto statement")
			out = append(out, s)
		}
	}
	return out
}

// BuildArgs returns the frontend options recorded in a SLSA provenance
// statement (v0.2: predicate.invocation.parameters.args; v1:
// predicate.buildDefinition.externalParameters.request.args), such as
// "build-arg:NAME" -> value.
func (s Statement) BuildArgs(t testing.TB) map[string]string {
	t.Helper()
	var p struct {
		Invocation struct {
			Parameters struct {
				Args map[string]string `json:"args"`
			} `json:"parameters"`
		} `json:"invocation"`
		BuildDefinition struct {
			ExternalParameters struct {
				Request struct {
					Args map[string]string `json:"args"`
				} `json:"request"`
			} `json:"externalParameters"`
		} `json:"buildDefinition"`
	}
	if err := json.Unmarshal(s.Predicate, &p); err != nil {
		t.Fatalf("provenance predicate: %v", err)
	}
	if p.Invocation.Parameters.Args != nil {
		return p.Invocation.Parameters.Args
	}
	return p.BuildDefinition.ExternalParameters.Request.Args
}

// LayerFiles returns the regular files of one layer blob (gzip or plain tar):
// path -> content. Whiteout entries (".wh.NAME") are kept as they are.
func (a *Archive) LayerFiles(t testing.TB, layer Descriptor) map[string][]byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(a.Blob(t, layer.Digest))
	if strings.HasSuffix(layer.MediaType, "gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: layer %s: %v", a.Path, layer.Digest, err)
		}
		r = zr
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("%s: layer %s: %v", a.Path, layer.Digest, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: layer %s: %v", a.Path, layer.Digest, err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = b
	}
}
