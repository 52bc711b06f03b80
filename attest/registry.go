package attest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// cosignSignatureAnnotation is where cosign keeps a layer's signature; an
// attestation's is in its envelope, so the value is empty.
const cosignSignatureAnnotation = "dev.cosignproject.cosign/signature"

// attTag is cosign's tag for the attestations of d: sha256-HEX.att.
func attTag(repo name.Repository, d v1.Hash) name.Tag {
	return repo.Tag(d.Algorithm + "-" + d.Hex + ".att")
}

// rawManifest is a manifest as bytes, for remote.Put.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// attachRegistry pushes the envelope twice: as an OCI 1.1 referrer of the
// image (where the registry has no referrers API, go-containerregistry
// keeps the referrers tag sha256-HEX instead), and as a layer of cosign's
// attestation image, tag sha256-HEX.att, which cosign verify-attestation
// and cosign tree read. Earlier sealenv verdicts in the .att image that
// the same key signed are replaced; other attestations there are kept.
func attachRegistry(ctx context.Context, t Target, r *referrer, o Options) error {
	ref, err := name.ParseReference(t.Ref.Name, o.name()...)
	if err != nil {
		return err
	}
	repo := ref.Context()
	opts := o.remote(ctx)
	for h, b := range r.blobs {
		if err := remote.WriteLayer(repo, static.NewLayer(b, types.MediaType("application/octet-stream")), opts...); err != nil {
			return fmt.Errorf("pushing blob %s: %v", h, err)
		}
	}
	if err := remote.Put(repo.Digest(r.desc.Digest.String()), rawManifest{r.manifest, types.OCIManifestSchema1}, opts...); err != nil {
		return fmt.Errorf("pushing the referrer manifest: %v", err)
	}
	if err := pushAtt(repo, t.Descriptor.Digest, r, opts); err != nil {
		return fmt.Errorf("pushing %s: %v", attTag(repo, t.Descriptor.Digest).TagStr(), err)
	}
	return nil
}

// pushAtt writes cosign's attestation image for d: the layers it had,
// without the earlier sealenv verdicts the new one's key signed, and the
// new envelope.
func pushAtt(repo name.Repository, d v1.Hash, r *referrer, opts []remote.Option) error {
	tag := attTag(repo, d)
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	old, err := remote.Image(tag, opts...)
	switch {
	case isNotFound(err):
	case err != nil:
		return err
	default:
		m, err := old.Manifest()
		if err != nil {
			return err
		}
		for _, l := range m.Layers {
			layer, err := old.LayerByDigest(l.Digest)
			if err != nil {
				return err
			}
			if l.Annotations["predicateType"] == PredicateType && l.MediaType == EnvelopeMediaType {
				b, err := readLayer(layer)
				if err != nil {
					return err
				}
				if r.replaces(b) {
					continue
				}
			}
			if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: l.Annotations, MediaType: l.MediaType}); err != nil {
				return err
			}
		}
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer(r.env, EnvelopeMediaType),
		Annotations: map[string]string{"predicateType": PredicateType, cosignSignatureAnnotation: ""},
		MediaType:   EnvelopeMediaType,
	})
	if err != nil {
		return err
	}
	return remote.Write(tag, img, opts...)
}

// registryEnvelopes returns the DSSE envelopes attached to d: in its
// referrers (the API, or the referrers tag) with sealenv's artifact type,
// and in cosign's attestation image.
func registryEnvelopes(ctx context.Context, t Target, o Options) ([][]byte, error) {
	ref, err := name.ParseReference(t.Ref.Name, o.name()...)
	if err != nil {
		return nil, err
	}
	repo := ref.Context()
	d := t.Descriptor.Digest
	opts := o.remote(ctx)
	var out [][]byte
	seen := map[v1.Hash]bool{}
	add := func(h v1.Hash, fetch func() ([]byte, error)) error {
		if seen[h] {
			return nil
		}
		seen[h] = true
		b, err := fetch()
		if err != nil {
			return fmt.Errorf("envelope %s: %v", h, err)
		}
		if err := checkDigest(b, h); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	}
	blob := func(h v1.Hash) func() ([]byte, error) {
		return func() ([]byte, error) {
			l, err := remote.Layer(repo.Digest(h.String()), opts...)
			if err != nil {
				return nil, err
			}
			return readLayer(l)
		}
	}

	idx, err := remote.Referrers(repo.Digest(d.String()), opts...)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("listing the referrers of %s: %v", d, err)
	}
	if err == nil {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("listing the referrers of %s: %v", d, err)
		}
		for _, desc := range im.Manifests {
			// A registry that lists referrers by their config's media type
			// (go-containerregistry's) says "empty" for ours.
			if desc.ArtifactType != ArtifactType && desc.ArtifactType != emptyConfigType {
				continue
			}
			got, err := remote.Get(repo.Digest(desc.Digest.String()), opts...)
			if err != nil {
				return nil, fmt.Errorf("referrer %s: %v", desc.Digest, err)
			}
			if got.Size > maxIndex {
				return nil, fmt.Errorf("referrer %s: larger than %d bytes", desc.Digest, maxIndex)
			}
			mf, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
			if err != nil {
				return nil, fmt.Errorf("referrer %s: %v", desc.Digest, err)
			}
			if mf.ArtifactType != ArtifactType || mf.Subject == nil || mf.Subject.Digest != d {
				continue
			}
			for _, ly := range mf.Layers {
				if ly.MediaType == EnvelopeMediaType {
					if err := add(ly.Digest, blob(ly.Digest)); err != nil {
						return nil, err
					}
				}
			}
		}
	}

	img, err := remote.Image(attTag(repo, d), opts...)
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading %s: %v", attTag(repo, d).TagStr(), err)
	default:
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", attTag(repo, d).TagStr(), err)
		}
		for _, ly := range m.Layers {
			if ly.MediaType == EnvelopeMediaType {
				if err := add(ly.Digest, blob(ly.Digest)); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// readLayer reads a small layer (an envelope) as stored.
func readLayer(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readAll(rc, maxEnvelope)
}

// isNotFound reports a registry's 404 (a tag or manifest that is not there).
func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return err != nil && strings.Contains(err.Error(), "MANIFEST_UNKNOWN")
}
