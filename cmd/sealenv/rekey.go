package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
)

func rekeyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rekey",
		Usage:     "set a bundle's recipients and always generate a new data key",
		ArgsUsage: "BUNDLE",
		Description: "sealenv rekey BUNDLE [-r RECIPIENT...] [-R FILE]  (neither: keep recipients, new data key)\n" +
			"sealenv rekey --env NAME                  (recipients and path from sealenv.yaml)\n" +
			"sealenv rekey --all [--dry-run]          (every environment; prints the plan first)\n\n" +
			"The bundle gets exactly the keys given (or the policy's, every type) and no other.\n" +
			"This is sops updatekeys plus sops -r in one step: a removed recipient cannot\n" +
			"read anything written from now on. Values they could read before should be\n" +
			"rotated (sealenv rotate).",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), adoptFlag(), policyFlag(), signKeyFlag(),
			&cli.StringSliceFlag{Name: "recipient", Aliases: []string{"r"}, Usage: "new recipient `KEY`: age1..., ssh-..., or pgp:FP, kms:ARN, gcp_kms:ID, azure_kv:URL, hc_vault:URL, hckms:ID (repeatable; the bundle gets exactly these)"},
			recipientsFileFlag(),
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
			var groups [][]seal.MasterKey
			threshold := 0
			var path string
			if name := c.String("env"); name != "" {
				if c.NArg() > 0 || len(c.StringSlice("recipient")) > 0 || len(c.StringSlice("recipients-file")) > 0 {
					return errors.New("usage: --env takes the bundle and recipients from the policy; drop BUNDLE, -r and -R")
				}
				var err error
				if path, groups, threshold, err = policyEnv(c, name); err != nil {
					return err
				}
			} else {
				var err error
				if path, err = bundleArg(c); err != nil {
					return err
				}
				keys, err := e.recipientFlags(c, false)
				if err != nil {
					return err
				}
				if len(keys) > 0 {
					groups = [][]seal.MasterKey{keys}
				}
			}
			var before, after []seal.MasterKey
			var names []string
			err := bundlefile.Edit(path, e.writeOptions(c), func(b *bundlefile.Draft) (bool, error) {
				before = b.MasterKeys()
				var err error
				if groups != nil {
					err = b.SetMasterKeys(groups, threshold)
				} else {
					err = b.Rekey()
				}
				if err != nil {
					return false, fmt.Errorf("%s: %w", path, err)
				}
				after, names = b.MasterKeys(), b.Names()
				return true, nil
			})
			if err != nil {
				return writeError(path, err)
			}
			added, removed := keysMinus(after, before), keysMinus(before, after)
			fmt.Fprintf(e.stderr, "rekeyed %s: new data key, %s (+%d, -%d)\n", path, plural(len(after), "key"), len(added), len(removed))
			for _, k := range added {
				fmt.Fprintf(e.stderr, "  + %s\n", k)
			}
			for _, k := range removed {
				fmt.Fprintf(e.stderr, "  - %s\n", k)
			}
			if len(removed) > 0 {
				fmt.Fprintf(e.stderr, "removed keys could read every value written before; rotate next: %s\n", strings.Join(names, ", "))
			}
			return nil
		},
	}
}

// parseRecipients reads -r values: age and SSH keys as they are, other key
// types as TYPE:ID.
func parseRecipients(rs []string) ([]seal.MasterKey, error) {
	var out []seal.MasterKey
	for _, r := range rs {
		k, err := recipients.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("-r: %w", err)
		}
		out = append(out, k)
	}
	return out, nil
}

// keysMinus returns the keys of a that match none of b (groups compared).
func keysMinus(a, b []seal.MasterKey) []seal.MasterKey {
	var out []seal.MasterKey
	for _, k := range a {
		found := false
		for _, o := range b {
			found = found || (k.Group == o.Group && k.Matches(o))
		}
		if !found {
			out = append(out, k)
		}
	}
	return out
}

// rekeyAll prints the plan, then rekeys every environment of the policy.
func (e *env) rekeyAll(c *cli.Context) error {
	if c.NArg() > 0 || len(c.StringSlice("recipient")) > 0 || len(c.StringSlice("recipients-file")) > 0 || c.String("env") != "" {
		return errors.New("usage: --all takes bundles and recipients from the policy; drop BUNDLE, -r, -R and --env")
	}
	p, err := loadPolicy(c)
	if err != nil {
		return err
	}
	if err := e.recoverFleet(c); err != nil {
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
	signing, done, err := e.fleetSigning(c, p)
	if err != nil {
		return err
	}
	defer done()
	if _, err := fleet.RekeyAll(p, found.Identities, e.now, signing); err != nil {
		return fleetAdoptHint(err)
	}
	fmt.Fprintf(e.stderr, "rekeyed %s with new data keys\n", plural(len(plans), "bundle"))
	return nil
}

// fleetAdoptHint adds the way out to a fleet write that a bundle in review
// stopped (its error names the bundle).
func fleetAdoptHint(err error) error {
	if errors.Is(err, seal.ErrUnauthenticated) {
		return fmt.Errorf("%w; review that bundle, then run sealenv adopt on it", err)
	}
	return err
}

func printPlan(w io.Writer, plans []fleet.RekeyPlan) {
	for _, pl := range plans {
		fmt.Fprintf(w, "%s (%s): new data key", pl.Env, pl.Bundle)
		if len(pl.Add)+len(pl.Remove) == 0 && !pl.Groups {
			fmt.Fprintln(w, ", recipients unchanged")
			continue
		}
		fmt.Fprintln(w)
		for _, a := range pl.Add {
			if a.Owner != "" {
				fmt.Fprintf(w, "  + %s (%s)\n", a.Key, a.Owner)
			} else {
				fmt.Fprintf(w, "  + %s\n", a.Key)
			}
		}
		for _, r := range pl.Remove {
			fmt.Fprintf(w, "  - %s\n", r.Key)
		}
		if pl.Groups {
			fmt.Fprintln(w, "  key groups and Shamir threshold set as the policy says")
		}
		if len(pl.Exposed) > 0 {
			fmt.Fprintf(w, "  rotate next (readable by removed keys): %s\n", strings.Join(pl.Exposed, ", "))
		}
	}
}
