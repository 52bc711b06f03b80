package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/attest"
	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/fsutil"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check that a signed sealenv attestation says the image was audited clean",
		ArgsUsage: "IMAGE",
		Description: "IMAGE is docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or a path. The attestations\n" +
			"attached to the image's manifest or index digest are read (a registry's referrers and\n" +
			"cosign's sha256-HEX.att tag; a layout's referrer manifests), or the envelope in\n" +
			"--attestation FILE. Of those signed with --key, of predicate type " + attest.PredicateType + ",\n" +
			"about this digest, the newest must say: complete, and no finding at or above --severity.\n" +
			"Exit 0 verified clean; 1 a valid attestation with findings, or of an incomplete audit;\n" +
			"2 none found, a bad signature, another image's attestation, or anything unreadable.\n" +
			"See docs/attest.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the public key `FILE` the attestation is signed with (cosign.pub: PEM, ECDSA P-256 or Ed25519)"},
			&cli.StringFlag{Name: "severity", Value: "medium", Usage: "no finding at or above this severity may be attested: low, `medium` or high"},
			&cli.StringFlag{Name: "attestation", Usage: "verify the DSSE envelope in `FILE` (what --attest with --attest-key wrote) instead of those attached"},
			&cli.BoolFlag{Name: "insecure", Usage: "allow a plain-HTTP registry"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 || c.String("key") == "" {
				return errors.New("usage: sealenv verify --key FILE [--severity S] [--attestation FILE] IMAGE")
			}
			o := attest.VerifyOptions{Options: attest.Options{Insecure: c.Bool("insecure")}}
			var err error
			if o.Severity, err = rules.ParseSeverity(c.String("severity")); err != nil {
				return fmt.Errorf("--severity: %w", err)
			}
			data, err := os.ReadFile(c.String("key"))
			if err != nil {
				return fmt.Errorf("--key: %s: %w", c.String("key"), fsutil.Reason(err))
			}
			if o.Key, err = attest.ParsePublicKey(data); err != nil {
				return fmt.Errorf("--key: %s: %w", c.String("key"), err)
			}
			if f := c.String("attestation"); f != "" {
				env, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--attestation: %s: %w", f, fsutil.Reason(err))
				}
				o.Envelopes = [][]byte{env}
			}
			ref, err := imageref.Parse(c.Args().First())
			if err != nil {
				return err
			}
			v, err := attest.Verify(c.Context, ref, o)
			var ve *attest.VerdictError
			if errors.As(err, &ve) {
				return withCode(exitFindings, err)
			}
			if err != nil {
				return noDigest(err)
			}
			p := v.Statement.Predicate
			fmt.Fprintf(e.stdout, "verified: %s (%s) audited clean: complete, no finding at or above %s; by %s %s at %s, rule set %s\n",
				ref, v.Target.Descriptor.Digest, o.Severity, p.Scanner.Name, p.Scanner.Version, p.Time.Format(time.RFC3339), p.Coverage.RuleSet)
			return nil
		},
	}
}
