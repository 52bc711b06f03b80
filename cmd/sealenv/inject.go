package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/plugin"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

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
		ArgsUsage: "[flags] -- CMD [ARGS...]",
		// The flags and the help text are package inject's, shared with
		// sealenv-inject: one declaration, parsed by the same flag set.
		SkipFlagParsing:    true,
		HideHelp:           true,
		CustomHelpTemplate: inject.Usage("sealenv inject"),
		Action: func(c *cli.Context) error {
			cfg := inject.Config{
				Stdout:           e.stdout,
				Stderr:           e.stderr,
				Prog:             "sealenv",
				Now:              e.now,
				IdentityDefaults: append([]string{inject.DefaultIdentityFile}, seal.DefaultIdentityFiles()...),
				IdentityOptional: true,
				ParseIdentities:  parseNamedIdentities,
				Open:             e.openedBy(author.OpenForReview),
			}
			if err := cfg.ParseArgs("sealenv inject", c.Args().Slice()); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					fmt.Fprint(e.stdout, inject.Usage("sealenv inject"))
					return nil
				}
				return withCode(inject.ExitCode(err), fmt.Errorf("%w (see sealenv inject --help)", err))
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

// parseNamedIdentities parses identities like the rest of the CLI and names
// the recipient of those that cannot name it themselves, so that the access
// line says which key opened a bundle: an SSH key by its public key, a
// plugin identity by its plugin (its recipient is the plugin's to derive).
func parseNamedIdentities(data []byte) ([]age.Identity, error) {
	ids, err := identities.Parse(data, nil)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		switch id := id.(type) {
		case *plugin.Identity:
			ids[i] = inject.NamedIdentity{Identity: id, Recipient: "age-plugin-" + id.Name()}
		case *agessh.Ed25519Identity, *agessh.RSAIdentity:
			if signer, err := ssh.ParsePrivateKey(bytes.TrimSpace(data)); err == nil {
				pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
				ids[i] = inject.NamedIdentity{Identity: id, Recipient: pub}
			}
		}
	}
	return ids, nil
}

// injectFlagNames lists the flags of sealenv inject, which urfave/cli does
// not parse (see injectCommand), for the documentation check.
func injectFlagNames() []string {
	var names []string
	inject.NewFlagSet("sealenv inject", &inject.Config{}).VisitAll(func(f *flag.Flag) {
		names = append(names, f.Name)
	})
	return names
}
