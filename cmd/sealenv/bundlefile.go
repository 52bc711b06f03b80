package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/identities"
)

// Flags shared by several commands.
func identityFlag() cli.Flag {
	return &cli.StringFlag{
		Name:  "identity",
		Usage: "age identity `FILE` (default: $SEALENV_AGE_KEY, $SEALENV_AGE_KEY_FILE, $SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE, then the sops keys.txt)",
	}
}

// adoptFlag lets a write command take over a SOPS file whose empty or
// unencrypted values nothing authenticates (see docs/bundles.md).
func adoptFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-unauthenticated", Usage: "adopt empty or unencrypted values of a SOPS file sealenv did not write (review them first); the write records them"}
}

func storeFlag() cli.Flag {
	return &cli.StringFlag{Name: "store", Usage: "bundle store `dotenv|yaml` (default: from the file name or content)"}
}

func policyFlag() cli.Flag {
	return &cli.StringFlag{Name: "policy", Usage: "policy `FILE` (default: sealenv.yaml in this directory or above)"}
}

// identities finds the identity by the shared lookup order.
func (e *env) identities(c *cli.Context) (*seal.FoundIdentity, error) {
	found, err := identities.Find(seal.IdentityLookup{
		File:     c.String("identity"),
		Getenv:   e.getenv,
		Defaults: seal.DefaultIdentityFiles(),
	}, nil)
	if errors.Is(err, seal.ErrNoIdentity) {
		return nil, fmt.Errorf("%w: pass --identity FILE or set SEALENV_AGE_KEY_FILE (see sealenv keygen)", seal.ErrNoIdentity)
	}
	return found, err
}

// readBundle reads a bundle file and decides its store.
func readBundle(c *cli.Context, path string) (seal.Format, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	f, err := bundleFormat(c, path, data)
	if err != nil {
		return 0, nil, err
	}
	return f, data, nil
}

func bundleFormat(c *cli.Context, path string, data []byte) (seal.Format, error) {
	if s := c.String("store"); s != "" {
		f, err := seal.ParseFormat(s)
		if err != nil {
			return 0, fmt.Errorf("--store: %w", err)
		}
		return f, nil
	}
	f, err := seal.DetectFormat(path, data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// readWithIdentity reads a bundle and finds the identity: what both the
// editing and the reading path need first.
func (e *env) readWithIdentity(c *cli.Context, path string) (seal.Format, []byte, *seal.FoundIdentity, error) {
	f, data, err := readBundle(c, path)
	if err != nil {
		return 0, nil, nil, err
	}
	found, err := e.identities(c)
	if err != nil {
		return 0, nil, nil, err
	}
	return f, data, found, nil
}

// loadBundle opens a bundle for editing with the identity.
func (e *env) loadBundle(c *cli.Context, path string) (*author.Bundle, error) {
	f, data, found, err := e.readWithIdentity(c, path)
	if err != nil {
		return nil, err
	}
	var opts []author.LoadOption
	if c.Bool("allow-unauthenticated") {
		opts = append(opts, author.AdoptUnauthenticated())
	}
	b, err := author.Load(f, data, found.Identities, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b.Now = e.now
	return b, nil
}

// openBundle decrypts a bundle with the slim reader.
func (e *env) openBundle(c *cli.Context, path string) (*seal.Bundle, error) {
	f, data, found, err := e.readWithIdentity(c, path)
	if err != nil {
		return nil, err
	}
	b, err := seal.Open(f, data, found.Identities...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// saveBundle encrypts b and replaces path atomically.
func saveBundle(path string, b *author.Bundle) error {
	out, err := b.Marshal()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := fsutil.WriteFileAtomic(path, out, 0o644); err != nil {
		return fmt.Errorf("%s: writing: %w", path, fsutil.Reason(err))
	}
	return nil
}

// loadPolicy reads the policy named by --policy or found from the working
// directory.
func loadPolicy(c *cli.Context) (*policies.Policy, error) {
	path := c.String("policy")
	if path == "" {
		var err error
		if path, err = policies.Find("."); err != nil {
			return nil, err
		}
	}
	return policies.Load(path)
}

// envTarget is what --env NAME means: the environment's bundle path and
// keys from the policy.
type envTarget struct {
	path                 string
	recipients, kms, pgp []string
}

func policyEnv(c *cli.Context, name string) (*envTarget, error) {
	p, err := loadPolicy(c)
	if err != nil {
		return nil, err
	}
	env, err := p.Env(name)
	if err != nil {
		return nil, err
	}
	return &envTarget{path: p.BundlePath(env), recipients: env.Keys(), kms: env.KMS, pgp: env.PGP}, nil
}

// bundleArg returns the first argument or a usage error.
func bundleArg(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("usage: sealenv %s %s", c.Command.Name, c.Command.ArgsUsage)
	}
	return c.Args().First(), nil
}
