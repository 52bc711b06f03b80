package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/attest"
	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/fsutil"
)

// attestFlags are the flags that record an audit's verdict as an in-toto
// attestation (docs/attest.md). file is the name of the statement's flag:
// "attest" (audit image, wrap; alias --attest-verdict), or
// "attest-verdict" where --attest already names BuildKit's provenance
// (build). failing adds --attest-failing, for audit image: wrap and build
// write no image whose audit is not clean.
func attestFlags(file string, failing bool) []cli.Flag {
	f := &cli.StringFlag{Name: file, Usage: "write the audit's verdict as an in-toto statement about the image's digest to `FILE` (a DSSE envelope with --attest-key)"}
	if file == "attest" {
		f.Aliases = []string{"attest-verdict"}
	}
	flags := []cli.Flag{
		f,
		&cli.StringFlag{Name: "attest-key", Usage: "sign the verdict with `KEY` (cosign.key, its password in $COSIGN_PASSWORD; or an unencrypted PKCS #8 key; ECDSA P-256 or Ed25519) and attach it to the image"},
		&cli.BoolFlag{Name: "no-attach", Usage: "with --attest-key: sign, but attach nothing to the image"},
	}
	if failing {
		flags = append(flags, &cli.BoolFlag{Name: "attest-failing", Usage: "also write and attach a verdict that is not clean (sealenv verify refuses it)"})
	}
	return flags
}

// attestation is what the attest flags asked for; nil when none was given.
type attestation struct {
	e      *env
	file   string // the flag that names the statement's file
	o      attest.PublishOptions
	target attest.Target // audit image: the image audited
	report *audit.Report // wrap: the audit of the image about to be written
}

// attestation reads the attest flags of c (file names the statement's
// flag). dest, when not nil, is where the image will be written (wrap,
// build), checked now: an image must be kept where it has a digest.
func (e *env) attestation(c *cli.Context, file string, dest *imageref.Ref) (*attestation, error) {
	key := c.String("attest-key")
	path := c.String(file)
	if key == "" && path == "" {
		for _, f := range []string{"no-attach", "attest-failing"} {
			if c.IsSet(f) {
				return nil, fmt.Errorf("usage: --%s needs --%s FILE or --attest-key KEY", f, file)
			}
		}
		return nil, nil
	}
	if c.Bool("no-attach") && key == "" {
		return nil, errors.New("usage: --no-attach needs --attest-key KEY (an unsigned statement is never attached)")
	}
	if c.Bool("no-attach") && path == "" {
		return nil, fmt.Errorf("usage: --no-attach without --%s FILE would keep the signed verdict nowhere", file)
	}
	a := &attestation{e: e, file: file, o: attest.PublishOptions{
		File:    path,
		Attach:  key != "" && !c.Bool("no-attach"),
		Failing: c.Bool("attest-failing"),
		Version: version,
		Options: attest.Options{Insecure: c.Bool("insecure")},
	}}
	if dest != nil {
		if hasFlag(c, "audit") && !c.Bool("audit") {
			return nil, fmt.Errorf("usage: --%s needs --audit: the verdict is the audit's", pick(path != "", file, "attest-key"))
		}
		if err := attestable(*dest); err != nil {
			return nil, err
		}
	}
	if key != "" {
		data, err := os.ReadFile(key)
		if err != nil {
			return nil, fmt.Errorf("--attest-key: %s: %w", key, fsutil.Reason(err))
		}
		s, err := attest.ParsePrivateKey(data, func() ([]byte, error) {
			p, ok := e.getenv("COSIGN_PASSWORD")
			if !ok {
				return nil, errors.New("COSIGN_PASSWORD is not set: it holds the password of an encrypted cosign key (empty for none)")
			}
			return []byte(p), nil
		})
		if errors.Is(err, attest.ErrWrongPassword) {
			return nil, fmt.Errorf("--attest-key: %s: %w (the password comes from $COSIGN_PASSWORD)", key, err)
		}
		if err != nil {
			return nil, fmt.Errorf("--attest-key: %s: %w", key, err)
		}
		a.o.Signer = s
	}
	return a, nil
}

// attestable refuses a destination that keeps no digest.
func attestable(r imageref.Ref) error {
	switch r.Transport {
	case imageref.Docker, imageref.OCI, imageref.OCIArchive:
		return nil
	}
	return noDigest(fmt.Errorf("%s: %w", r, attest.ErrNoDigest))
}

// noDigest adds the way forward to attest.ErrNoDigest.
func noDigest(err error) error {
	if errors.Is(err, attest.ErrNoDigest) {
		return fmt.Errorf("%w; attest the image where it has one: push it and audit docker://REF, or write it to oci:DIR", err)
	}
	return err
}

// pin resolves the image about to be audited (audit image) and returns the
// reference to audit: a registry image by its digest, so that the verdict
// is about the bytes read even if the tag moves meanwhile.
func (a *attestation) pin(ctx context.Context, ref imageref.Ref) (imageref.Ref, error) {
	if a == nil {
		return ref, nil
	}
	t, err := attest.Resolve(ctx, ref, a.o.Options)
	if err != nil {
		return ref, noDigest(err)
	}
	a.target = t
	if t.Ref.Transport == imageref.Docker {
		return imageref.Ref{Transport: imageref.Docker, Name: t.Name + "@" + t.Descriptor.Digest.String()}, nil
	}
	return t.Ref, nil
}

// audited publishes the verdict of the image pin resolved (audit image),
// after its report was written with outcome (nil, findings or incomplete):
// an error publishing it is the command's error.
func (a *attestation) audited(ctx context.Context, r *audit.Report, outcome error) error {
	if a == nil || r == nil {
		return outcome
	}
	if a.target.Ref.Transport != imageref.Docker {
		// A layout can change under the audit: the verdict must be about
		// what is there now.
		now, err := attest.Resolve(ctx, a.target.Ref, a.o.Options)
		if err != nil {
			return err
		}
		if now.Descriptor.Digest != a.target.Descriptor.Digest {
			return fmt.Errorf("%s changed while it was audited (%s, now %s); nothing was attested", a.target.Ref, a.target.Descriptor.Digest, now.Descriptor.Digest)
		}
	}
	if err := a.publish(ctx, a.target, r); err != nil {
		return err
	}
	return outcome
}

// remember keeps the clean report of an image about to be written (wrap).
func (a *attestation) remember(r *audit.Report) {
	if a != nil {
		a.report = r
	}
}

// written publishes the verdict r (or the remembered one) about the image
// with digest d that was just written to dest (wrap, build).
func (a *attestation) written(ctx context.Context, dest imageref.Ref, d string, r *audit.Report) error {
	if a == nil {
		return nil
	}
	if r == nil {
		r = a.report
	}
	if r == nil {
		return fmt.Errorf("--%s: no audit to attest (pass --audit)", a.file)
	}
	h, err := v1.NewHash(d)
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	t, err := attest.Locate(ctx, dest, h, a.o.Options)
	if err != nil {
		return fmt.Errorf("%w; the image was written, its verdict was not attested", err)
	}
	return a.publish(ctx, t, r)
}

func (a *attestation) publish(ctx context.Context, t attest.Target, r *audit.Report) error {
	o := a.o
	o.Time = a.e.now()
	res, err := attest.Publish(ctx, t, r, o)
	if err != nil {
		return err
	}
	digest := t.Descriptor.Digest.String()
	switch {
	case res.Skipped:
		fmt.Fprintf(a.e.stderr, "sealenv: note: the audit of %s is not clean: no attestation written or attached (--attest-failing records a failing verdict)\n", digest)
		return nil
	case res.Written && o.Signer != nil:
		fmt.Fprintf(a.e.stderr, "sealenv: signed attestation (%s) of %s written to %s\n", res.Statement.Predicate.Verdict, digest, o.File)
	case res.Written:
		fmt.Fprintf(a.e.stderr, "sealenv: unsigned statement (%s) of %s written to %s; sign it with cosign attest --predicate (docs/attest.md)\n", res.Statement.Predicate.Verdict, digest, o.File)
	}
	if res.Attached {
		fmt.Fprintf(a.e.stderr, "sealenv: attestation (%s) attached to %s (%s)\n", res.Statement.Predicate.Verdict, t.Ref, digest)
	}
	return nil
}

// hasFlag reports whether c's command declares the flag name.
func hasFlag(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
