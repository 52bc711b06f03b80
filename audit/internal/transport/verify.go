package transport

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Verify checks a blob against its descriptor's size and digest as it is
// read: a truncated or altered blob fails at its end, and a digest in an
// algorithm the OCI spec does not register fails at once.
func Verify(rc io.ReadCloser, d v1.Descriptor) (io.ReadCloser, error) {
	var h hash.Hash
	switch d.Digest.Algorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		rc.Close()
		return nil, fmt.Errorf("blob %s: cannot verify a digest of algorithm %q", d.Digest, d.Digest.Algorithm)
	}
	if len(d.Digest.Hex) != 2*h.Size() {
		rc.Close()
		return nil, fmt.Errorf("blob %s: malformed digest", d.Digest)
	}
	return &verifier{rc: rc, h: h, alg: d.Digest.Algorithm, want: d.Digest.Hex, size: d.Size}, nil
}

type verifier struct {
	rc   io.ReadCloser
	h    hash.Hash
	alg  string
	want string
	size int64
	n    int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		if v.size > 0 && v.n != v.size {
			return n, fmt.Errorf("blob %s:%s: read %d bytes, the manifest says %d: %w", v.alg, short(v.want), v.n, v.size, io.ErrUnexpectedEOF)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("blob %s:%s: digest mismatch (got %s:%s)", v.alg, short(v.want), v.alg, short(got))
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
