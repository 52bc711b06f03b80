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
	"github.com/sealenv/sealenv/policies"
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
			if e.environ != nil {
				cfg.Environ = e.environ()
			}
			args, err := e.injectEnvArgs(c.Args().Slice())
			if err != nil {
				return err
			}
			if err := cfg.ParseArgs("sealenv inject", args); err != nil {
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

// injectEnvArgs turns the flags only sealenv inject has, --env NAME and
// --policy FILE (before "--"), into the injector's own: --bundle with the
// environment's bundle path, and --allow-name for each name of the
// environment's allow_names.
func (e *env) injectEnvArgs(args []string) ([]string, error) {
	var out []string
	envName, policy := "", ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "env" && name != "policy") {
			out = append(out, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) || args[i+1] == "--" {
				return nil, fmt.Errorf("usage: --%s needs a value (see sealenv inject --help)", name)
			}
			i++
			value = args[i]
		}
		if name == "env" {
			envName = value
		} else {
			policy = value
		}
	}
	if envName == "" {
		if policy != "" {
			return nil, errors.New("usage: --policy goes with --env NAME (see sealenv inject --help)")
		}
		return args, nil
	}
	if policy == "" {
		var err error
		if policy, err = policies.Find("."); err != nil {
			return nil, fmt.Errorf("--env %s: %w", envName, err)
		}
	}
	p, err := policies.Load(policy)
	if err != nil {
		return nil, err
	}
	env, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	extra := []string{"--bundle", displayPath(p.BundlePath(env))}
	for _, n := range env.AllowNames {
		extra = append(extra, "--allow-name", n)
	}
	return append(extra, out...), nil
}

// injectFlagNames lists the flags of sealenv inject, which urfave/cli does
// not parse (see injectCommand), for the documentation check.
func injectFlagNames() []string {
	names := []string{"env", "policy"} // sealenv inject's own (injectEnvArgs)
	inject.NewFlagSet("sealenv inject", &inject.Config{}).VisitAll(func(f *flag.Flag) {
		names = append(names, f.Name)
	})
	return names
}
