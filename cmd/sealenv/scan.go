package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/audit/sources"
)

func scanCommand(e *env) *cli.Command {
	flags := []cli.Flag{&cli.BoolFlag{Name: "staged", Usage: "scan the content staged for commit (the git index), not the working tree"}}
	for _, f := range auditFlags() {
		if f.Names()[0] != "output" {
			flags = append(flags, f)
		}
	}
	return &cli.Command{
		Name:      "scan",
		Usage:     "find plaintext secrets and unsealed secrets files in a working tree or a commit",
		ArgsUsage: "[PATH...]",
		Description: "With the audit's detectors and rule set: credential rules, plaintext secrets\n" +
			"files (.env, *.env, secrets YAML/JSON without SOPS metadata), the credentials\n" +
			"files of other tools by name and content (registry logins, kubeconfigs, cloud\n" +
			"CLIs, Terraform and Pulumi state, *.tfvars, appsettings.json, git configs),\n" +
			"UTF-16 text, and, with an identity, every sealed value of the policy's bundles\n" +
			"in any encoding (one shorter than 8 bytes is exit 2 unless --allow-short), and\n" +
			"decrypted copies of the policy's bundles (prod.env~, .bak, .orig, a sops decrypt\n" +
			"copy with all the bundle's keys), without a key. Without\n" +
			"PATH: the repository's tracked and untracked, not ignored, files. --staged\n" +
			"scans what the next commit would contain (for a pre-commit hook).\n" +
			"Exit 0 clean, 1 findings, 2 error.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			var files []audit.File
			var err error
			if c.Bool("staged") {
				if c.NArg() > 0 {
					return errors.New("usage: --staged scans the whole index; drop PATH")
				}
				if files, err = sources.Staged(); err != nil {
					return fmt.Errorf("--staged: %w", err)
				}
			} else {
				paths := c.Args().Slice()
				if len(paths) == 0 {
					paths = []string{"."}
				}
				if files, err = sources.Tree(paths); err != nil {
					return err
				}
			}
			sealed, err := e.auditOptions(c)
			if err != nil {
				return err
			}
			defer sealed.Zero()
			r, err := sealed.ScanFiles(c.Context, files)
			if err != nil {
				return err
			}
			return e.writeAudit(c, r, "scan")
		},
	}
}
