package main

import (
	"errors"
	"fmt"
	"os"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/identities"
)

// injectCommand is `sealenv inject`: the injector of sealenv-inject, plus SSH
// and plugin identities and bundles whose data key only a KMS or PGP key
// unwraps (through sops/v3, which the slim binary never links).
func injectCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "inject",
		Usage:     "decrypt bundles into the environment of a command, in memory only",
		ArgsUsage: "-- CMD [ARGS...]",
		Description: `Runs CMD with the sealed values in its environment, like the sealenv-inject
container entrypoint (see docs/inject.md). Exits with CMD's status, or 125 when
the injector fails (CMD never starts), 126 when CMD cannot be executed, 127
when it is not found, 128+N when a supervised CMD is killed by signal N.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "bundle", Usage: "bundle `FILE` (repeatable, merged in order; default: $SEALENV_BUNDLE, then /etc/sealenv/bundle.env or .yaml)"},
			&cli.StringSliceFlag{Name: "override", Usage: "let a later bundle redefine `KEY` (repeatable; \"*\" for all)"},
			&cli.StringFlag{Name: "identity", Usage: "age identity `FILE` (default: $SEALENV_AGE_KEY, $SEALENV_AGE_KEY_FILE, $SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE, then " + inject.DefaultIdentityFile + ", then the sops keys.txt)"},
			&cli.IntFlag{Name: "identity-fd", Value: -1, Usage: "read the age identity from file descriptor `N`"},
			&cli.StringSliceFlag{Name: "allow-env-override", Usage: "keep `KEY` from the environment over the sealed value (repeatable)"},
			&cli.StringSliceFlag{Name: "allow-name", Usage: "allow a bundle to set the dangerous `NAME` (PATH, LD_*, ...)"},
			&cli.StringSliceFlag{Name: "file", Usage: "deliver `NAME[=VAR]` as an in-memory file; VAR (default NAME_FILE) is /proc/self/fd/N"},
			&cli.BoolFlag{Name: "supervise", Usage: "stay as the parent: forward signals, reap zombies"},
			&cli.BoolFlag{Name: "redact", Usage: "supervise and replace sealed values in CMD's output with [REDACTED:NAME]"},
			&cli.BoolFlag{Name: "no-access-log", Usage: "do not print the JSON access line on stderr"},
			&cli.StringSliceFlag{Name: "only", Usage: "pass only `KEY` (repeatable; with its KEY_PREVIOUS grace value); a KEY no bundle has is an error"},
			&cli.BoolFlag{Name: "allow-unauthenticated", Usage: "accept empty or unencrypted values SOPS does not authenticate, in bundles sealenv did not write"},
		},
		Action: func(c *cli.Context) error {
			cfg := inject.Config{
				Args:                 c.Args().Slice(),
				Bundles:              c.StringSlice("bundle"),
				Override:             c.StringSlice("override"),
				Identity:             c.String("identity"),
				IdentityFD:           c.Int("identity-fd"),
				AllowEnvOverride:     c.StringSlice("allow-env-override"),
				AllowNames:           c.StringSlice("allow-name"),
				Files:                c.StringSlice("file"),
				Supervise:            c.Bool("supervise"),
				Redact:               c.Bool("redact"),
				NoAccessLog:          c.Bool("no-access-log"),
				Only:                 c.StringSlice("only"),
				AllowUnauthenticated: c.Bool("allow-unauthenticated"),
				Stdout:               e.stdout,
				Stderr:               e.stderr,
				Prog:                 "sealenv",
				Now:                  e.now,
				IdentityDefaults:     append([]string{inject.DefaultIdentityFile}, seal.DefaultIdentityFiles()...),
				IdentityOptional:     true,
				ParseIdentities: func(data []byte) ([]age.Identity, error) {
					return identities.Parse(data, nil)
				},
				Open: openWithSops,
			}
			if f, ok := e.stdin.(*os.File); ok {
				cfg.Stdin = f
			}
			code, err := inject.Run(cfg)
			if err != nil || code != 0 {
				return withCode(code, err)
			}
			return nil
		},
	}
}

// openWithSops opens a bundle with the slim reader and, when its data key is
// wrapped only to KMS or PGP keys, with sops/v3. Either way the MAC is
// verified before any value is returned.
func openWithSops(format seal.Format, data []byte, ids ...age.Identity) (*seal.Bundle, error) {
	b, err := seal.Open(format, data, ids...)
	if !errors.Is(err, seal.ErrUnsupported) {
		return b, err
	}
	ab, aerr := author.Load(format, data, ids)
	if aerr != nil {
		return nil, aerr
	}
	defer ab.Zero()
	out := &seal.Bundle{Format: format, Meta: ab.Meta(), Recipients: ab.Recipients(), Matched: "sops key service"}
	for _, name := range ab.Names() {
		if name == seal.MetaKey {
			continue
		}
		v, ok := ab.Get(name)
		if !ok {
			out.Zero()
			return nil, fmt.Errorf("%w: key %s is nested; nested keys of a KMS- or PGP-wrapped bundle are not supported", seal.ErrUnsupported, name)
		}
		out.Secrets = append(out.Secrets, seal.Secret{Name: name, Value: []byte(v)})
	}
	return out, nil
}
