package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func checkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check every bundle against sealenv.yaml (for CI and pre-commit)",
		ArgsUsage: " ",
		Description: "Without a key: every key the bundle is wrapped to (age, PGP, KMS, Vault, key groups)\n" +
			"against the policy, values stored in plaintext, missing and unknown keys, values\n" +
			"past max_age (error) or inside warn_before (warning) or set in the future, expired\n" +
			"grace values, unsealed bundles, bundles a symlink takes out of the repository.\n" +
			"With an identity (--identity or the usual variables) also: each value against\n" +
			"its rules, and the same value used in two environments (names only).\n" +
			"Always: every other sealenv.yaml in the tree that nested_policies does not name.\n" +
			"With --base REF (a pull request's base): what the change of sealenv.yaml since REF\n" +
			"does to trust (recipients, signers, allow_names, allowlists, generators added or\n" +
			"widened; each recipient with the commit and author that added it).\n" +
			"Exit 0: no errors (warnings allowed); 1: violations; 2: the check could not run.",
		Flags: append([]cli.Flag{
			policyFlag(), identityFlag(),
			&cli.StringFlag{Name: "env", Usage: "check only environment `NAME`"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "`text`, json or sarif"},
			&cli.BoolFlag{Name: "no-identity", Usage: "do not look for an identity even if one is configured"},
		}, checkBaseFlags()...),
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format != "text" && format != "json" && format != "sarif" {
				return fmt.Errorf("--format: unknown format %q (want text, json or sarif)", format)
			}
			p, err := loadPolicy(c)
			if err != nil {
				return err
			}
			if err := e.recoverFleet(c); err != nil {
				return err
			}
			if err := e.removeStaleEdits(); err != nil {
				return err
			}
			opts := policies.CheckOptions{Now: e.now(), Env: c.String("env"), Open: e.openedBy(author.OpenForReview), SopsKeys: e.sopsKeys(p)}
			if !c.Bool("no-identity") {
				found, err := e.identities(c)
				switch {
				case err == nil:
					opts.Identities = found.Identities
				case !errors.Is(err, seal.ErrNoIdentity):
					return err // a configured identity that cannot be read is an error, never a silent skip
				}
			}
			vs, err := p.Check(opts)
			if err != nil {
				return err
			}
			trust, err := trustChanges(c, p)
			if err != nil {
				return err
			}
			vs = append(trust, vs...)
			r := p.Report(vs, len(opts.Identities) > 0, opts.Env)
			r.Version = version
			if err := r.Write(e.stdout, format); err != nil {
				return err
			}
			if r.Failed() {
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
}

// sopsKeys finds the keys that the .sops.yaml sops would use from the
// policy's directory (the repository root, where sops is run) gives a
// bundle's path.
func (e *env) sopsKeys(p *policies.Policy) func(string) (string, [][]seal.MasterKey, int, error) {
	return func(path string) (string, [][]seal.MasterKey, int, error) {
		conf, err := author.FindSopsConfig(e.getenv, filepath.Dir(p.Path))
		if err != nil || conf == "" {
			return "", nil, 0, err
		}
		rule, err := author.CreationRuleFor(conf, path)
		switch {
		case errors.Is(err, author.ErrNoCreationRule):
			return "", nil, 0, nil // sops would not encrypt it from this config either
		case err != nil:
			return "", nil, 0, err
		case rule == nil:
			return "", nil, 0, nil
		}
		rel, rerr := filepath.Rel(filepath.Dir(p.Path), conf)
		if rerr != nil {
			rel = conf
		}
		return rel, rule.Groups, rule.Threshold, nil
	}
}

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a commented starter sealenv.yaml, from .sops.yaml when there is one",
		ArgsUsage: " ",
		Description: "Without a .sops.yaml: one environment, prod (secrets/prod.env), wrapped to -r or to\n" +
			"the recipient of your identity. With one (as sops finds it, or $SOPS_CONFIG): every SOPS\n" +
			"file its creation rules match becomes an environment with the keys of its rule, so\n" +
			"sealenv check and sops updatekeys agree. Adds .env and .env.* to .gitignore (keeping any\n" +
			"bundle path they would catch committable).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "recipient", Aliases: []string{"r"}, Usage: "first recipient public `KEY` (default: from the identity, if one is found)"},
			&cli.StringFlag{Name: "owner", Value: "me", Usage: "owner label of the first recipient"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: policies.FileName, Usage: "`FILE` to write"},
			identityFlag(),
		},
		Action: func(c *cli.Context) error {
			out := c.String("output")
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s already exists; edit it, or pass -o FILE", out)
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			root := filepath.Dir(abs)
			if _, err := os.Stat(root); err != nil {
				return fmt.Errorf("%s: %w", out, fsutil.Reason(err))
			}
			r := c.String("recipient")
			var idErr error
			if r == "" {
				found, err := e.identities(c)
				if err == nil {
					r = recipientOf(found)
				}
				idErr = err
			}
			envs, err := fleet.StarterEnvs(fleet.StarterOptions{Root: root, Getenv: e.getenv, Recipient: r, Owner: c.String("owner")})
			switch {
			case errors.Is(err, fleet.ErrNoRecipient) && idErr != nil:
				return fmt.Errorf("init: pass -r age1... (no identity found to take the recipient from: %v)", idErr)
			case errors.Is(err, fleet.ErrNoRecipient):
				return errors.New("init: pass -r age1... (the identity has no printable recipient)")
			case errors.Is(err, fleet.ErrTwoSources):
				return fmt.Errorf("-r: %w; leave -r out to start from it (or add the key to .sops.yaml first)", err)
			case err != nil:
				return fmt.Errorf("init: %w", err)
			}
			text, err := policies.Starter(envs)
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			var bundles, names []string
			from := ""
			for _, env := range envs {
				bundles, names = append(bundles, env.Bundle), append(names, env.Name)
				if env.From != "" {
					from = env.From
				}
			}
			added, err := fleet.IgnorePlaintext(root, bundles)
			if err != nil {
				return fmt.Errorf("init: .gitignore: %w", fsutil.Reason(err))
			}
			if err := fsutil.CreateExclusive(out, text, 0o644); err != nil {
				return pathError(out, err)
			}
			msg := fmt.Sprintf("wrote %s (%s: %s", out, plural(len(envs), "environment"), strings.Join(names, ", "))
			if from != "" {
				msg += ", recipients from " + from
			}
			msg += ")"
			if len(added) > 0 {
				msg += "; .gitignore: added " + strings.Join(added, " ")
			}
			next := "sealenv seal --env " + envs[0].Name
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(envs[0].Bundle))); err == nil {
				next = "sealenv check"
			}
			fmt.Fprintf(e.stderr, "%s; next: %s\n", msg, next)
			return nil
		},
	}
}

// recipientOf returns the recipient of the first X25519 or hybrid identity.
func recipientOf(found *seal.FoundIdentity) string {
	for _, id := range found.Identities {
		switch id := id.(type) {
		case *age.X25519Identity:
			return id.Recipient().String()
		case *age.HybridIdentity:
			return id.Recipient().String()
		}
	}
	return ""
}
