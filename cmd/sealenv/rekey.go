package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/fleet"
)

func rekeyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rekey",
		Usage:     "set a bundle's recipients and always generate a new data key",
		ArgsUsage: "BUNDLE",
		Description: "sealenv rekey BUNDLE [-r RECIPIENT...]   (without -r: keep recipients, new data key)\n" +
			"sealenv rekey --env NAME                  (recipients and path from sealenv.yaml)\n" +
			"sealenv rekey --all [--dry-run]          (every environment; prints the plan first)\n\n" +
			"This is sops updatekeys plus sops -r in one step: a removed recipient cannot\n" +
			"read anything written from now on. Values they could read before should be\n" +
			"rotated (sealenv rotate).",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), adoptFlag(), policyFlag(),
			&cli.StringSliceFlag{Name: "recipient", Aliases: []string{"r"}, Usage: "new recipient `KEY` (repeatable; replaces the list)"},
			&cli.StringFlag{Name: "env", Usage: "environment `NAME` from the policy file"},
			&cli.BoolFlag{Name: "all", Usage: "every environment of the policy, all or nothing"},
			&cli.BoolFlag{Name: "dry-run", Usage: "with --all: print the plan and change nothing"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("all") {
				return e.rekeyAll(c)
			}
			if c.Bool("dry-run") {
				return errors.New("usage: --dry-run goes with --all")
			}
			recipients := c.StringSlice("recipient")
			var kms, pgp []string
			var path string
			if name := c.String("env"); name != "" {
				if c.NArg() > 0 || len(recipients) > 0 {
					return errors.New("usage: --env takes the bundle and recipients from the policy; drop BUNDLE and -r")
				}
				t, err := policyEnv(c, name)
				if err != nil {
					return err
				}
				path, recipients, kms, pgp = t.path, t.recipients, t.kms, t.pgp
			} else {
				var err error
				if path, err = bundleArg(c); err != nil {
					return err
				}
			}
			b, err := e.loadBundle(c, path)
			if err != nil {
				return err
			}
			defer b.Zero()
			before := b.Recipients()
			if len(recipients)+len(kms)+len(pgp) > 0 {
				err = b.SetKeys(recipients, kms, pgp)
			} else {
				err = b.Rekey()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := saveBundle(path, b); err != nil {
				return err
			}
			after := b.Recipients()
			removed := minus(before, after)
			fmt.Fprintf(e.stderr, "rekeyed %s: new data key, %d recipients (+%d, -%d)\n", path, len(after), len(minus(after, before)), len(removed))
			if len(removed) > 0 {
				fmt.Fprintf(e.stderr, "removed recipients could read every value written before; rotate next: %v\n", b.Names())
			}
			return nil
		},
	}
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// rekeyAll prints the plan, then rekeys every environment of the policy.
func (e *env) rekeyAll(c *cli.Context) error {
	if c.NArg() > 0 || len(c.StringSlice("recipient")) > 0 || c.String("env") != "" {
		return errors.New("usage: --all takes bundles and recipients from the policy; drop BUNDLE, -r and --env")
	}
	p, err := loadPolicy(c)
	if err != nil {
		return err
	}
	plans, err := fleet.PlanRekeyAll(p)
	if err != nil {
		return err
	}
	printPlan(e.stdout, plans)
	if c.Bool("dry-run") {
		return nil
	}
	found, err := e.identities(c)
	if err != nil {
		return err
	}
	if _, err := fleet.RekeyAll(p, found.Identities, e.now); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "rekeyed %d bundles with new data keys\n", len(plans))
	return nil
}

func printPlan(w io.Writer, plans []fleet.RekeyPlan) {
	for _, pl := range plans {
		fmt.Fprintf(w, "%s (%s): new data key", pl.Env, pl.Bundle)
		if len(pl.Add)+len(pl.Remove) == 0 {
			fmt.Fprintln(w, ", recipients unchanged")
			continue
		}
		fmt.Fprintln(w)
		for _, a := range pl.Add {
			fmt.Fprintf(w, "  + %s\n", a)
		}
		for _, r := range pl.Remove {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		if len(pl.Exposed) > 0 {
			fmt.Fprintf(w, "  rotate next (readable by removed recipients): %s\n", strings.Join(pl.Exposed, ", "))
		}
	}
}
