package attest

import (
	"archive/tar"
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/fsutil"
)

// Limits on what is read whole from a layout or a registry.
const (
	maxIndex    = 16 << 20 // index.json, a manifest
	maxEnvelope = 16 << 20 // one DSSE envelope
)

const refNameAnnotation = "org.opencontainers.image.ref.name"

// ociLayout reads an OCI layout: a directory, or an OCI archive read in place.
type ociLayout struct {
	ref  imageref.Ref
	dir  string   // for oci:
	file *os.File // for oci-archive:
	raw  []byte   // index.json as stored
	idx  *v1.IndexManifest
}

func openLayout(ref imageref.Ref) (*ociLayout, error) {
	l := &ociLayout{ref: ref}
	var err error
	switch ref.Transport {
	case imageref.OCI:
		l.dir = ref.Path
		l.raw, err = readLimited(filepath.Join(ref.Path, "index.json"), maxIndex)
	case imageref.OCIArchive:
		if l.file, err = os.Open(ref.Path); err != nil {
			return nil, fmt.Errorf("%s: %v", ref, fsutil.Reason(err))
		}
		l.raw, err = l.member("index.json", maxIndex)
	default:
		return nil, fmt.Errorf("%s: not an OCI layout", ref)
	}
	if err != nil {
		l.close()
		return nil, fmt.Errorf("%s: index.json: %v", ref, err)
	}
	if l.idx, err = v1.ParseIndexManifest(bytes.NewReader(l.raw)); err != nil {
		l.close()
		return nil, fmt.Errorf("%s: index.json: %v", ref, err)
	}
	return l, nil
}

func (l *ociLayout) close() {
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
}

// pick returns the entry of index.json with digest d, or else the one
// tagged tag, or else the one image the layout holds.
func (l *ociLayout) pick(tag string, d v1.Hash) (v1.Descriptor, error) {
	var found []v1.Descriptor
	for _, m := range l.idx.Manifests {
		switch {
		case d.Hex != "":
			if m.Digest == d {
				return m, nil
			}
		case tag != "":
			if m.Annotations[refNameAnnotation] == tag {
				found = append(found, m)
			}
		case !imageref.IsReferrer(m):
			found = append(found, m)
		}
	}
	switch {
	case d.Hex != "":
		return v1.Descriptor{}, fmt.Errorf("no manifest %s in index.json", d)
	case len(found) == 1:
		return found[0], nil
	case tag != "" && len(found) == 0:
		return v1.Descriptor{}, fmt.Errorf("no manifest tagged %q", tag)
	case tag != "":
		return v1.Descriptor{}, fmt.Errorf("%d manifests are tagged %q", len(found), tag)
	case len(found) == 0:
		return v1.Descriptor{}, errors.New("the layout holds no image")
	}
	return v1.Descriptor{}, fmt.Errorf("the layout holds %d images; name one with %s:PATH:TAG", len(found), l.ref.Transport)
}

// blob reads a blob whole, at most limit bytes, and checks its digest.
func (l *ociLayout) blob(d v1.Hash, limit int64) ([]byte, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: only sha256 blobs are read here", d)
	}
	name := "blobs/" + d.Algorithm + "/" + d.Hex
	var b []byte
	var err error
	if l.file != nil {
		b, err = l.member(name, limit)
	} else {
		b, err = readLimited(filepath.Join(l.dir, filepath.FromSlash(name)), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %v", d, err)
	}
	if err := checkDigest(b, d); err != nil {
		return nil, err
	}
	return b, nil
}

// member reads one file of the archive, skipping the others' data.
func (l *ociLayout) member(name string, limit int64) ([]byte, error) {
	if _, err := l.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	tr := tar.NewReader(l.file)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s is not in the archive", name)
		}
		if err != nil {
			return nil, err
		}
		if cleanName(h.Name) != name || h.Typeflag != tar.TypeReg {
			continue
		}
		return readAll(tr, limit)
	}
}

// envelopes returns the DSSE envelopes of the referrers of subject d that
// index.json lists.
func (l *ociLayout) envelopes(d v1.Hash) ([][]byte, error) {
	var out [][]byte
	for _, m := range l.idx.Manifests {
		if !m.MediaType.IsImage() || !imageref.IsReferrer(m) {
			continue
		}
		raw, err := l.blob(m.Digest, maxIndex)
		if err != nil {
			return nil, err
		}
		mf, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %v", m.Digest, err)
		}
		if mf.ArtifactType != ArtifactType || mf.Subject == nil || mf.Subject.Digest != d {
			continue
		}
		for _, ly := range mf.Layers {
			if ly.MediaType != EnvelopeMediaType {
				continue
			}
			b, err := l.blob(ly.Digest, maxEnvelope)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// referrer is a referrer manifest and the blobs it needs.
type referrer struct {
	manifest []byte
	desc     v1.Descriptor      // of the manifest, as index.json lists it
	blobs    map[v1.Hash][]byte // config and envelope
	env      []byte             // the envelope
	// key replaces the verdicts it verifies about the same subject.
	key crypto.PublicKey
}

// replaces reports whether env is an earlier sealenv verdict that r's key
// signed, which r replaces.
func (r *referrer) replaces(env []byte) bool {
	if r.key == nil {
		return false
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return false
	}
	payload, err := e.Verify(r.key)
	if err != nil {
		return false
	}
	_, err = ParseStatement(payload)
	return err == nil
}

// emptyConfig is the OCI empty descriptor's content: "{}", of media type
// emptyConfigType.
var emptyConfig = []byte("{}")

const emptyConfigType = "application/vnd.oci.empty.v1+json"

// newReferrer makes the OCI 1.1 referrer manifest of an envelope about t:
// an empty config, the envelope as its one layer (with cosign's layer
// annotations), and t as its subject.
func newReferrer(t Target, env []byte, created string) (*referrer, error) {
	envHash, envSize, err := v1.SHA256(bytes.NewReader(env))
	if err != nil {
		return nil, err
	}
	cfgHash, cfgSize, err := v1.SHA256(bytes.NewReader(emptyConfig))
	if err != nil {
		return nil, err
	}
	sub := t.Descriptor
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: types.MediaType(emptyConfigType), Digest: cfgHash, Size: cfgSize, Data: emptyConfig},
		Layers: []v1.Descriptor{{
			MediaType:   EnvelopeMediaType,
			Digest:      envHash,
			Size:        envSize,
			Annotations: map[string]string{"predicateType": PredicateType, cosignSignatureAnnotation: ""},
		}},
		Subject:     &v1.Descriptor{MediaType: sub.MediaType, Digest: sub.Digest, Size: sub.Size},
		Annotations: map[string]string{"in-toto.io/predicate-type": PredicateType, "org.opencontainers.image.created": created},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	h, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &referrer{
		manifest: raw,
		desc: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: size, ArtifactType: ArtifactType,
			Annotations: map[string]string{"org.opencontainers.image.created": created}},
		blobs: map[v1.Hash][]byte{envHash: env, cfgHash: emptyConfig},
		env:   env,
	}, nil
}

// withReferrer returns index.json with r appended, and without the earlier
// sealenv verdicts about the same subject that r's key signed (their
// manifest digests are returned, for their blobs to be removed).
func (l *ociLayout) withReferrer(r *referrer, subject v1.Hash) ([]byte, []v1.Hash, error) {
	im := *l.idx
	im.Manifests = nil
	var dropped []v1.Hash
	for _, m := range l.idx.Manifests {
		if m.ArtifactType == ArtifactType && m.Digest != r.desc.Digest {
			raw, err := l.blob(m.Digest, maxIndex)
			if err != nil {
				return nil, nil, err
			}
			mf, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return nil, nil, fmt.Errorf("manifest %s: %v", m.Digest, err)
			}
			if mf.Subject != nil && mf.Subject.Digest == subject && l.signedBy(mf, r) {
				dropped = append(dropped, m.Digest)
				continue
			}
		}
		if m.Digest == r.desc.Digest {
			continue
		}
		im.Manifests = append(im.Manifests, m)
	}
	im.Manifests = append(im.Manifests, r.desc)
	b, err := json.Marshal(im)
	return b, dropped, err
}

// signedBy reports whether every envelope of the referrer manifest mf is a
// verdict r replaces.
func (l *ociLayout) signedBy(mf *v1.Manifest, r *referrer) bool {
	n := 0
	for _, ly := range mf.Layers {
		if ly.MediaType != EnvelopeMediaType {
			continue
		}
		b, err := l.blob(ly.Digest, maxEnvelope)
		if err != nil || !r.replaces(b) {
			return false
		}
		n++
	}
	return n > 0
}

// attachDir writes the referrer into an OCI layout directory: its blobs
// first, then index.json in one atomic rename. Blobs of the verdicts it
// replaces are removed afterwards; a failure there leaves only unreferenced
// blobs.
func attachDir(l *ociLayout, r *referrer, subject v1.Hash) error {
	index, dropped, err := l.withReferrer(r, subject)
	if err != nil {
		return err
	}
	dir := filepath.Join(l.dir, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fsutil.Reason(err)
	}
	blobs := map[v1.Hash][]byte{r.desc.Digest: r.manifest}
	for h, b := range r.blobs {
		blobs[h] = b
	}
	for h, b := range blobs {
		p := filepath.Join(dir, h.Hex)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := fsutil.WriteFileAtomic(p, b, 0o644); err != nil {
			return fmt.Errorf("blob %s: %v", h, fsutil.Reason(err))
		}
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(l.dir, "index.json"), index, 0o644); err != nil {
		return fmt.Errorf("index.json: %v", fsutil.Reason(err))
	}
	for _, h := range dropped {
		removeReferrerBlobs(l, h)
	}
	return nil
}

// removeReferrerBlobs removes a replaced verdict's manifest and envelope
// blobs (never the shared empty config).
func removeReferrerBlobs(l *ociLayout, h v1.Hash) {
	raw, err := l.blob(h, maxIndex)
	if err != nil {
		return
	}
	mf, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return
	}
	for _, ly := range mf.Layers {
		if ly.MediaType == EnvelopeMediaType && ly.Digest.Algorithm == "sha256" {
			os.Remove(filepath.Join(l.dir, "blobs", "sha256", ly.Digest.Hex))
		}
	}
	os.Remove(filepath.Join(l.dir, "blobs", "sha256", h.Hex))
}

// attachArchive rewrites an OCI archive with the referrer: every entry is
// copied to a new archive next to it (index.json replaced, the replaced
// verdicts' blobs left out, the new blobs added), which is renamed over
// the original. A failure leaves the original as it was.
func attachArchive(l *ociLayout, r *referrer, subject v1.Hash) error {
	index, dropped, err := l.withReferrer(r, subject)
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, h := range dropped {
		skip["blobs/sha256/"+h.Hex] = true
		if raw, err := l.blob(h, maxIndex); err == nil {
			if mf, err := v1.ParseManifest(bytes.NewReader(raw)); err == nil {
				for _, ly := range mf.Layers {
					if ly.MediaType == EnvelopeMediaType {
						skip["blobs/"+ly.Digest.Algorithm+"/"+ly.Digest.Hex] = true
					}
				}
			}
		}
	}
	add := map[string][]byte{"blobs/sha256/" + r.desc.Digest.Hex: r.manifest}
	for h, b := range r.blobs {
		add["blobs/sha256/"+h.Hex] = b
	}
	path := l.ref.Path
	st, err := os.Stat(path)
	if err != nil {
		return fsutil.Reason(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fsutil.Reason(err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := copyArchive(l.file, tmp, index, skip, add); err != nil {
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Windows does not rename over a file that is open.
	l.close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fsutil.Reason(err)
	}
	ok = true
	return nil
}

// copyArchive copies the tar in src to dst with index.json replaced, the
// skip entries left out and the add entries appended (those already there
// are kept as they are: a blob is its digest).
func copyArchive(src *os.File, dst io.Writer, index []byte, skip map[string]bool, add map[string][]byte) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr := tar.NewReader(src)
	tw := tar.NewWriter(dst)
	wroteIndex := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n := cleanName(h.Name)
		switch {
		case skip[n]:
			continue
		case n == "index.json":
			if wroteIndex {
				return errors.New("the archive holds index.json twice")
			}
			wroteIndex = true
			h.Size = int64(len(index))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(index); err != nil {
				return err
			}
			continue
		}
		delete(add, n)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	if !wroteIndex {
		return errors.New("the archive has no index.json")
	}
	names := make([]string, 0, len(add))
	for n := range add {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := add[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return tw.Close()
}

func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fsutil.Reason(err)
	}
	defer f.Close()
	return readAll(f, limit)
}

// readAll reads r whole, refusing more than limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

func checkDigest(b []byte, d v1.Hash) error {
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if got != d {
		return fmt.Errorf("blob %s: its content has digest %s", d, got)
	}
	return nil
}

// tarNames lists the regular files of a tar archive.
func tarNames(p string) (map[string]bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out[cleanName(h.Name)] = true
	}
}
