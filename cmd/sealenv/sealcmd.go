package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
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
			n := bundlefile.New{Path: c.String("output"), Env: c.String("env"), Getenv: e.getenv, InputName: inputName(c), Dialect: c.String("dialect")}
			if n.Env != "" {
				if len(c.StringSlice("recipient")) > 0 || len(c.StringSlice("recipients-file")) > 0 || n.Path != "" {
					return errors.New("usage: --env takes recipients and the bundle path from the policy; drop -r, -R and -o")
				}
			} else {
				keys, err := e.recipientFlags(c, c.String("input") == "-")
				if err != nil {
					return err
				}
				n.Keys = keys
				if n.Path == "" {
					return errors.New("usage: sealenv seal -r RECIPIENT... [-i FILE|-] -o BUNDLE, or --env NAME")
				}
			}
			if c.String("input") != "" {
				n.Input = e.sealInput(c)
			}
			o := e.writeOptions(c)
			o.Replace, o.MakeDirs = c.Bool("force"), n.Env != ""
			sealed, err := bundlefile.Seal(n, o)
			if err != nil {
				return sealError(c, err)
			}
			from := ""
			if sealed.From != "" {
				from = " (recipients from " + sealed.From + ")"
			}
			fmt.Fprintf(e.stderr, "sealed %s to %s in %s%s\n", plural(sealed.Keys, "key"), plural(sealed.Recipients, "recipient"), sealed.Path, from)
			return nil
		},
	}
}

// sealError adds to an error of sealenv seal the flags that are the way
// out.
func sealError(c *cli.Context, err error) error {
	var de *author.DialectError
	switch {
	case errors.Is(err, author.ErrNoCreationRule):
		return fmt.Errorf("%w; pass -r RECIPIENT", err)
	case errors.Is(err, bundlefile.ErrNoRecipients):
		return errors.New("usage: at least one -r RECIPIENT or -R FILE is required (or $SOPS_AGE_RECIPIENTS, or a .sops.yaml creation rule for the path)")
	case errors.Is(err, bundlefile.ErrExists):
		return fmt.Errorf("%w; use sealenv set/edit to change it, or --force to replace it", err)
	case errors.Is(err, bundlefile.ErrUnknownStore):
		return fmt.Errorf("%w, or pass --store", err)
	case errors.As(err, &de):
		return fmt.Errorf("%w; pass --dialect literal, compose or shell", err)
	}
	return writeError(c.String("output"), err)
}

// sealInput reads the plaintext input of sealenv seal (-i FILE, or - for
// stdin), once the bundle's store is known: at most 16 MiB, never a
// private key, of the bundle's store.
func (e *env) sealInput(c *cli.Context) func(string, seal.Format) ([]byte, error) {
	return func(out string, format seal.Format) ([]byte, error) {
		in := c.String("input")
		var plain []byte
		var err error
		if in == "-" {
			plain, err = io.ReadAll(io.LimitReader(e.stdin, 16<<20+1))
		} else {
			plain, err = os.ReadFile(in)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, fsutil.Reason(err))
		}
		if len(plain) > 16<<20 {
			clear(plain)
			return nil, fmt.Errorf("%s: larger than 16 MiB; a bundle holds environment values, not files", inputName(c))
		}
		if looksLikeIdentity(plain) {
			clear(plain)
			return nil, fmt.Errorf("%s holds a private key, not values to seal: in sealenv seal, -i is the plaintext input (age's -i is an identity; sealing needs only public keys: -r or -R)", inputName(c))
		}
		if inf := seal.FormatForPath(in); inf != 0 && inf != format {
			clear(plain)
			return nil, fmt.Errorf("%s is %s but %s is %s; the store of input and bundle must match", in, inf, out, format)
		}
		return plain, nil
	}
}

func inputName(c *cli.Context) string {
	if in := c.String("input"); in != "-" {
		return in
	}
	return "stdin"
}
