package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/audit/sources"
	"github.com/sealenv/sealenv/seal"
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
			"in any encoding (one shorter than 8 bytes is exit 2 unless --allow-short). Without\n" +
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
			opts, done, err := e.auditOptions(c)
			if err != nil {
				return err
			}
			defer done()
			r, err := audit.Files(c.Context, files, opts)
			if err != nil {
				return err
			}
			r.Tool, r.Source = "sealenv scan", "files"
			r.Findings = append(r.Findings, unsealedPolicyBundles(c, files)...)
			sort.SliceStable(r.Findings, func(i, j int) bool {
				if r.Findings[i].Path != r.Findings[j].Path {
					return r.Findings[i].Path < r.Findings[j].Path
				}
				return r.Findings[i].Line < r.Findings[j].Line
			})
			return e.writeAudit(c, r, "scan")
		},
	}
}

// unsealedPolicyBundles reports a bundle path of the policy whose scanned
// content has no SOPS metadata.
func unsealedPolicyBundles(c *cli.Context, files []audit.File) []audit.Finding {
	p, err := loadPolicy(c)
	if err != nil {
		return nil
	}
	var out []audit.Finding
	for i := range p.Environments {
		abs := p.BundlePath(&p.Environments[i])
		for _, f := range files {
			fa, err := filepath.Abs(filepath.FromSlash(f.Path))
			if err != nil || fa != abs {
				continue
			}
			data, err := readAll(f)
			if err != nil {
				continue // the scan reported it
			}
			format, err := seal.DetectFormat(f.Path, data)
			if err == nil {
				_, err = seal.Inspect(format, data)
			}
			if errors.Is(err, seal.ErrNotSealed) || errors.Is(err, seal.ErrMalformed) {
				out = append(out, audit.Finding{Kind: "plaintext-bundle", Rule: "unsealed-policy-bundle", Severity: "high", Where: "file",
					Path: f.Path, Message: fmt.Sprintf("the bundle of environment %q is not sealed: sealenv seal --env %s -i FILE", p.Environments[i].Name, p.Environments[i].Name)})
			}
		}
	}
	return out
}

func readAll(f audit.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
