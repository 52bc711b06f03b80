package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func sealCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "seal",
		Usage:     "create a sealed bundle from a plaintext dotenv, YAML or JSON file",
		ArgsUsage: " ",
		Description: "sealenv seal -r RECIPIENT... [-R FILE] [-i FILE|-] -o BUNDLE\n" +
			"sealenv seal --env NAME [-i FILE|-]      (recipients and path from sealenv.yaml; missing\n" +
			"                                          directories of the path are created)\n" +
			"sealenv seal [-i FILE|-] -o BUNDLE       (recipients from $SOPS_AGE_RECIPIENTS or .sops.yaml)\n\n" +
			"Like sops, seal takes the encryption rules (unencrypted_suffix, ..._regex) and,\n" +
			"without -r or --env, the keys of the .sops.yaml creation rule for the bundle's\n" +
			"path ($SOPS_CONFIG, else .sops.yaml here or above).\n" +
			"Without -i the bundle starts empty; add values with sealenv set. The plaintext\n" +
			"input is read once and never written anywhere. -r, -R and -o mean what they mean\n" +
			"in age; -i is the plaintext input here (age's -i is an identity, which sealing\n" +
			"never needs): see docs/cli.md.\n" +
			"A dotenv input is read as its tool reads it: --dialect literal (docker --env-file),\n" +
			"compose (docker compose), shell (bash) or sops (sops encrypt). Without --dialect it\n" +
			"is read when literal, compose and shell agree on every line; otherwise seal stops\n" +
			"at the first line they read differently (docs/cli.md has the table).",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "recipient", Aliases: []string{"r"}, Usage: "recipient `KEY`: age1..., ssh-ed25519, ssh-rsa, or pgp:FP, kms:ARN, gcp_kms:ID, azure_kv:URL, hc_vault:URL, hckms:ID (repeatable)"},
			recipientsFileFlag(),
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "plaintext `FILE` to seal, or - for stdin"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "bundle `FILE` to write"},
			&cli.StringFlag{Name: "env", Usage: "environment `NAME` from the policy file"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing bundle"},
			&cli.StringFlag{Name: "dialect", Usage: "how to read a dotenv input: `literal` (as docker --env-file), compose (as docker compose), shell (as bash) or sops (as sops encrypt); default: any, when they all read the same values, else an error naming the first line they read differently"},
			storeFlag(),
			policyFlag(),
			signKeyFlag(),
		},
		Action: func(c *cli.Context) error {
			var groups [][]seal.MasterKey
			threshold := 0
			out := c.String("output")
			if name := c.String("env"); name != "" {
				if len(c.StringSlice("recipient")) > 0 || len(c.StringSlice("recipients-file")) > 0 || out != "" {
					return errors.New("usage: --env takes recipients and the bundle path from the policy; drop -r, -R and -o")
				}
				t, err := policyEnv(c, name)
				if err != nil {
					return err
				}
				out, groups, threshold = t.path, t.groups, t.threshold
			} else {
				keys, err := e.recipientFlags(c, c.String("input") == "-")
				if err != nil {
					return err
				}
				if len(keys) > 0 {
					groups = [][]seal.MasterKey{keys}
				}
			}
			if out == "" {
				return errors.New("usage: sealenv seal -r RECIPIENT... [-i FILE|-] -o BUNDLE, or --env NAME")
			}
			// Where sops would take keys and rules from: $SOPS_AGE_RECIPIENTS
			// (sops's --age), else the .sops.yaml creation rule for the path;
			// the rule's encryption rules apply in any case.
			from := ""
			rule, err := e.sopsCreationRule(out)
			if err != nil && !errors.Is(err, author.ErrNoCreationRule) {
				return err
			}
			if len(groups) == 0 {
				if v, ok := e.getenv("SOPS_AGE_RECIPIENTS"); ok && strings.TrimSpace(v) != "" {
					keys, err := parseRecipients(strings.Split(v, ","))
					if err != nil {
						return fmt.Errorf("SOPS_AGE_RECIPIENTS: %w", err)
					}
					groups, from = [][]seal.MasterKey{keys}, "$SOPS_AGE_RECIPIENTS"
				} else if rule != nil {
					groups, threshold, from = rule.Groups, rule.Threshold, rule.Config
				} else if err != nil {
					return fmt.Errorf("%w; pass -r RECIPIENT", err)
				}
			}
			if len(groups) == 0 {
				return errors.New("usage: at least one -r RECIPIENT or -R FILE is required (or $SOPS_AGE_RECIPIENTS, or a .sops.yaml creation rule for the path)")
			}
			if _, err := os.Stat(out); err == nil && !c.Bool("force") {
				return fmt.Errorf("%s already exists; use sealenv set/edit to change it, or --force to replace it", out)
			}
			format := seal.FormatForPath(out)
			if s := c.String("store"); s != "" {
				f, err := seal.ParseFormat(s)
				if err != nil {
					return fmt.Errorf("--store: %w", err)
				}
				format = f
			}
			if format == 0 {
				return fmt.Errorf("%s: unknown store: name the bundle *.env, *.yaml or *.json, or pass --store", out)
			}
			var plain []byte
			if in := c.String("input"); in != "" {
				var err error
				if in == "-" {
					plain, err = io.ReadAll(io.LimitReader(e.stdin, 16<<20+1))
				} else {
					plain, err = os.ReadFile(in)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", in, fsutil.Reason(err))
				}
				if len(plain) > 16<<20 {
					clear(plain)
					return fmt.Errorf("%s: larger than 16 MiB; a bundle holds environment values, not files", inputName(c))
				}
				defer clear(plain)
				if looksLikeIdentity(plain) {
					return fmt.Errorf("%s holds a private key, not values to seal: in sealenv seal, -i is the plaintext input (age's -i is an identity; sealing needs only public keys: -r or -R)", inputName(c))
				}
				if inf := seal.FormatForPath(in); inf != 0 && inf != format {
					return fmt.Errorf("%s is %s but %s is %s; the store of input and bundle must match", in, inf, out, format)
				}
			}
			b, err := author.NewWithKeys(format, groups, threshold)
			if err != nil {
				return err
			}
			b.Now = e.now
			defer b.Zero()
			if rule != nil {
				if err := b.SetRules(rule.Rules); err != nil {
					return fmt.Errorf("%s: %w", rule.Config, err)
				}
			}
			if plain != nil {
				dialect, err := author.ParseDialect(c.String("dialect"))
				if err != nil {
					return fmt.Errorf("--dialect: %w", err)
				}
				if _, err := b.Import(plain, dialect); err != nil {
					var de *author.DialectError
					if errors.As(err, &de) {
						return fmt.Errorf("%s: %w; pass --dialect literal, compose or shell", inputName(c), err)
					}
					return fmt.Errorf("%s: %w", inputName(c), err)
				}
			}
			if err := refuseNames(c, out, out, envNames(b)); err != nil {
				return err
			}
			data, err := b.Marshal()
			if err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
			if err := e.writeNew(c, out, data, c.String("env") != ""); err != nil {
				return err
			}
			if from != "" {
				from = " (recipients from " + from + ")"
			}
			fmt.Fprintf(e.stderr, "sealed %s to %s in %s%s\n", plural(len(b.Names()), "key"), plural(len(b.MasterKeys()), "recipient"), out, from)
			return nil
		},
	}
}

func inputName(c *cli.Context) string {
	if in := c.String("input"); in != "-" {
		return in
	}
	return "stdin"
}

// writeNew writes a new bundle: never over an existing file, except with
// --force, under the bundle's lock and through a symlink; never to a path
// that a symlink takes out of its repository. With mkdir, the missing
// directories of out are created (inside the repository only); they are
// removed again if the bundle cannot be written.
func (e *env) writeNew(c *cli.Context, out string, data []byte, mkdir bool) (err error) {
	if err := e.recoverFleet(c, out); err != nil {
		return err
	}
	if mkdir {
		made, err := fsutil.MkdirAllWithin(filepath.Dir(out), repoRoot(out), 0o755)
		if err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
		defer func() {
			for i := len(made) - 1; i >= 0 && err != nil; i-- {
				os.Remove(made[i])
			}
		}()
	}
	real, err := fsutil.Resolve(out, repoRoot(out))
	if err != nil {
		return err
	}
	key, err := e.signingKey(c, real)
	if err != nil {
		return err
	}
	defer key.Close()
	if !c.Bool("force") {
		var sig []byte
		if key != nil {
			if sig, err = key.Sign(data); err != nil {
				return fmt.Errorf("%s: %w; nothing was written", out, err)
			}
		}
		if err := fsutil.CreateExclusive(real, data, 0o644); err != nil {
			return fmt.Errorf("%s: %w", out, fsutil.Reason(err))
		}
		return e.writeSignature(out, real, sig, key)
	}
	if unlock, err := lockBundle(out, real); err == nil {
		defer unlock()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return e.writeSigned(out, real, data, key)
}
