package attest

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/fsutil"
)

// PublishOptions say what [Publish] does with a verdict.
type PublishOptions struct {
	Options
	// Signer signs the statement as a DSSE envelope; nil writes the
	// statement unsigned (for cosign attest --predicate to sign).
	Signer crypto.Signer
	// File receives the envelope, or the unsigned statement; "" for none.
	File string
	// Attach attaches the signed envelope to the image. It needs Signer.
	Attach bool
	// Failing publishes a verdict that is not clean too: it is a true
	// statement, and [Verify] refuses it. Without it such a verdict is
	// neither written nor attached.
	Failing bool
	// Version is sealenv's, for the predicate's scanner.
	Version string
	// Time is when the audit ended (default: now).
	Time time.Time
}

// Published says what [Publish] did.
type Published struct {
	Statement *Statement
	// Skipped: the verdict is not clean and Failing was not set, so
	// nothing was written or attached.
	Skipped bool
	// Written: File holds the statement (unsigned) or the envelope.
	Written bool
	// Attached: the envelope is attached to the image.
	Attached bool
}

// ErrAttachUnsigned: only a signed envelope is attached.
var ErrAttachUnsigned = errors.New("an attestation is attached only when it is signed")

// Publish makes the in-toto statement of r's verdict about t, signs it when
// o.Signer is set, writes it to o.File (atomically) and, when o.Attach,
// attaches the envelope to the image: as a referrer and in cosign's .att
// tag for a registry, as a referrer manifest in an OCI layout or archive.
func Publish(ctx context.Context, t Target, r *audit.Report, o PublishOptions) (*Published, error) {
	if o.Attach && o.Signer == nil {
		return nil, ErrAttachUnsigned
	}
	at := o.Time
	if at.IsZero() {
		at = time.Now()
	}
	st := NewStatement(t.Subject(), NewPredicate(r, o.Version, at))
	res := &Published{Statement: st}
	if !st.Predicate.Clean() && !o.Failing {
		res.Skipped = true
		return res, nil
	}
	payload, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	out := payload
	if o.Signer != nil {
		env, err := Sign(o.Signer, PayloadType, payload)
		if err != nil {
			return nil, err
		}
		if out, err = env.Marshal(); err != nil {
			return nil, err
		}
	}
	if o.File != "" {
		if err := fsutil.WriteFileAtomic(o.File, append(out, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("%s: %v", o.File, fsutil.Reason(err))
		}
		res.Written = true
	}
	if o.Attach {
		if err := Attach(ctx, t, out, o.Signer.Public(), at, o.Options); err != nil {
			return res, err
		}
		res.Attached = true
	}
	return res, nil
}

// Attach attaches a DSSE envelope (as JSON) to the image t: in a registry
// as an OCI 1.1 referrer and in cosign's sha256-HEX.att tag; in an OCI
// layout or archive as a referrer manifest listed in index.json. An
// earlier sealenv verdict about the same image that key verifies (the
// signer's own) is replaced in the .att tag and in a layout; verdicts
// signed by other keys stay, and a registry keeps earlier referrers. A nil
// key replaces nothing.
func Attach(ctx context.Context, t Target, envelope []byte, key crypto.PublicKey, created time.Time, o Options) error {
	r, err := newReferrer(t, envelope, created.UTC().Format(time.RFC3339))
	if err != nil {
		return err
	}
	r.key = key
	switch t.Ref.Transport {
	case imageref.Docker:
		err = attachRegistry(ctx, t, r, o)
	case imageref.OCI, imageref.OCIArchive:
		var l *ociLayout
		if l, err = openLayout(t.Ref); err != nil {
			return err
		}
		defer l.close()
		if _, err = l.pick("", t.Descriptor.Digest); err != nil {
			return fmt.Errorf("%s: %w", t.Ref, err)
		}
		if t.Ref.Transport == imageref.OCI {
			err = attachDir(l, r, t.Descriptor.Digest)
		} else {
			err = attachArchive(l, r, t.Descriptor.Digest)
		}
	default:
		return fmt.Errorf("%s: %w", t.Ref, ErrNoDigest)
	}
	if err != nil {
		return fmt.Errorf("%s: attaching the attestation: %w", t.Ref, err)
	}
	return nil
}

// Attached returns the DSSE envelopes attached to the image t (as JSON),
// valid or not: its referrers of sealenv's artifact type and the layers of
// cosign's .att tag in a registry, its referrer manifests in a layout.
func Attached(ctx context.Context, t Target, o Options) ([][]byte, error) {
	switch t.Ref.Transport {
	case imageref.Docker:
		envs, err := registryEnvelopes(ctx, t, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Ref, err)
		}
		return envs, nil
	case imageref.OCI, imageref.OCIArchive:
		l, err := openLayout(t.Ref)
		if err != nil {
			return nil, err
		}
		defer l.close()
		envs, err := l.envelopes(t.Descriptor.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Ref, err)
		}
		return envs, nil
	}
	return nil, fmt.Errorf("%s: %w", t.Ref, ErrNoDigest)
}
