package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/identities"
	"github.com/sealenv/sealenv/seal/signing"
)

// Flags shared by several commands.
func identityFlag() cli.Flag {
	return &cli.StringFlag{
		Name:  "identity",
		Usage: "age identity `FILE` (default: $SEALENV_AGE_KEY, $SEALENV_AGE_KEY_FILE, $SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE, then the sops keys.txt)",
	}
}

// adoptFlag lets a write command take over changes that nothing
// authenticates (see docs/bundles.md), as sealenv adopt does.
func adoptFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-unauthenticated", Usage: "record changes that nothing authenticates (empty or unencrypted values added, removed or renamed outside sealenv) with this write, as sealenv adopt does; review them first"}
}

func storeFlag() cli.Flag {
	return &cli.StringFlag{Name: "store", EnvVars: []string{"SEALENV_STORE"}, Usage: "bundle store `dotenv|yaml|json` (default: from the file name or content)"}
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

// openBundle decrypts a bundle for a person to read: with the slim reader,
// or through sops/v3 for KMS, PGP and Shamir bundles. What changed outside
// sealenv, and what of it nothing authenticates, goes to stderr.
func (e *env) openBundle(c *cli.Context, path string) (*seal.Bundle, error) {
	f, data, found, err := e.readWithIdentity(c, path)
	if err != nil {
		return nil, err
	}
	b, err := e.openedBy(author.OpenForReview)(f, data, found.Identities...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e.reportChanges(path, b.Recorded, b.Changes, b.Unauthenticated, b.LastModified)
	return b, nil
}

// reportChanges says on stderr what changed in a bundle since sealenv last
// wrote it, and what nothing authenticates: never a value.
func (e *env) reportChanges(path string, recorded bool, changes []seal.Change, unauth []string, lastModified time.Time) {
	if !recorded {
		if len(unauth) > 0 {
			fmt.Fprintf(e.stderr, "sealenv: %s: a SOPS file sealenv has not adopted; nothing authenticates the names of its empty or unencrypted values %s: review them, then run sealenv adopt %s\n",
				path, strings.Join(unauth, ", "), path)
		}
		return
	}
	if len(changes) == 0 {
		return
	}
	fmt.Fprintf(e.stderr, "sealenv: %s: changed outside sealenv since sealenv last wrote it (the file's last change: %s):\n", path, lastModified.UTC().Format(time.RFC3339))
	for _, ch := range changes {
		note := "authenticated: only a holder of the data key could do it"
		if !ch.Authenticated {
			note = "NOT AUTHENTICATED: anyone who can write the file could have done it"
		}
		fmt.Fprintf(e.stderr, "  %s (%s)\n", ch, note)
	}
	if len(unauth) > 0 {
		fmt.Fprintf(e.stderr, "sealenv: the injector refuses this bundle until someone reviews it and runs sealenv adopt %s\n", path)
	} else {
		fmt.Fprintf(e.stderr, "sealenv: sealenv adopt %s (or any sealenv write) records these changes\n", path)
	}
}

// writeOptions are the options of a write by the command of c: its
// flags (--policy, --store, --allow-unauthenticated, --sign-key), the
// identity lookup, and what it says on stderr.
func (e *env) writeOptions(c *cli.Context) bundlefile.Options {
	return bundlefile.Options{
		Policy: c.String("policy"),
		Store:  c.String("store"),
		Identities: func() ([]age.Identity, error) {
			found, err := e.identities(c)
			if err != nil {
				return nil, err
			}
			return found.Identities, nil
		},
		// sealenv adopt is --allow-unauthenticated without another change.
		Adopt: c.Bool("allow-unauthenticated") || c.Command.Name == "adopt",
		Key: func(path string) (bundlefile.Signer, error) {
			k, err := e.signingKey(c, path)
			if k == nil {
				return nil, err // no typed nil in the interface
			}
			return k, err
		},
		// Not unset (removing a name is the way out of a refusal) and
		// not rekey (who may decrypt must change whatever the names are).
		SkipNameCheck: c.Command.Name == "unset" || c.Command.Name == "rekey",
		Now:           e.now,
		Loaded:        e.sawAuthor,
		Tell:          e.tell,
	}
}

// recoverFleet finishes or rolls back an interrupted rekey --all or rotate
// --due in the policy's directory, and says so on stderr.
func (e *env) recoverFleet(c *cli.Context) error {
	return bundlefile.Recover(bundlefile.Options{Policy: c.String("policy"), Tell: e.tell})
}

// tell says on stderr what a write did beside its result.
func (e *env) tell(ev bundlefile.Event) {
	switch ev := ev.(type) {
	case bundlefile.Recovered:
		if ev.Finished {
			fmt.Fprintf(e.stderr, "sealenv: an interrupted rekey --all or rotate --due had written every bundle; finished it (%s)\n", ev.Journal)
		} else {
			fmt.Fprintf(e.stderr, "sealenv: an interrupted rekey --all or rotate --due was rolled back: every bundle is as it was before it (%s)\n", ev.Journal)
		}
	case bundlefile.Signed:
		if k, ok := ev.Signer.(*signing.Key); ok {
			fmt.Fprintf(e.stderr, "signed %s with %s %s (%s)\n", ev.Bundle, k.PublicKey().Type, k.PublicKey().Fingerprint(), k.Source)
		}
	case bundlefile.Unsigned:
		fmt.Fprintf(e.stderr, "sealenv: warning: %s changed and is now unsigned: its signature no longer matched and was removed; sign it with sealenv sign %s (or configure a key: --sign-key, %s, or git's user.signingkey)\n", ev.Bundle, ev.Bundle, signing.EnvSignKey)
	}
}

// writeError adds to an error of a write of the bundle at path the flags
// and commands that are the way out.
func writeError(path string, err error) error {
	var se *bundlefile.SettingError
	var rn *bundlefile.RefusedNameError
	var sg *bundlefile.SignatureError
	var rc *bundlefile.RecipientsError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rc):
		return recipientsHint(err)
	case errors.As(err, &se):
		return fmt.Errorf("--%s: %w", se.Setting, se.Err)
	case errors.As(err, &rn):
		return refusedNameError(rn)
	case errors.As(err, &sg):
		return fmt.Errorf("%w; run sealenv sign %s", err, sg.Bundle)
	case errors.Is(err, bundlefile.ErrNoSigningKey):
		return fmt.Errorf("%w: pass --sign-key FILE, set %s, or configure git (gpg.format ssh, user.signingkey)", err, signing.EnvSignKey)
	case errors.Is(err, seal.ErrUnauthenticated):
		return fmt.Errorf("%w; review the bundle (sealenv reveal %s), then run sealenv adopt %s, or pass --allow-unauthenticated to this write", err, path, path)
	}
	return err
}

// recipientsHint adds the way forward to a write refused because the bundle
// is not wrapped to exactly its environment's recipients.
func recipientsHint(err error) error {
	var rc *bundlefile.RecipientsError
	if !errors.As(err, &rc) {
		return err
	}
	return fmt.Errorf("%w; nothing was written: run sealenv rekey --all first (new data keys, wrapped to exactly the policy's recipients; sealenv rekey --all --dry-run shows the plan and what the removed keys could read)", err)
}

// loadPolicy reads the policy named by --policy or found from the working
// directory.
func loadPolicy(c *cli.Context) (*policies.Policy, error) {
	path, err := policyPath(c)
	if err != nil {
		return nil, err
	}
	return policies.Load(path)
}

// loadEnv loads the policy (--policy, or the one found from here) and its
// environment name.
func loadEnv(c *cli.Context, name string) (*policies.Policy, *policies.Environment, error) {
	p, err := loadPolicy(c)
	if err != nil {
		return nil, nil, err
	}
	env, err := p.Env(name)
	if err != nil {
		return nil, nil, err
	}
	return p, env, nil
}

// policyEnv is what --env NAME means: the environment's bundle path,
// and its keys by key group with their Shamir threshold.
func policyEnv(c *cli.Context, name string) (path string, groups [][]seal.MasterKey, threshold int, err error) {
	p, env, err := loadEnv(c, name)
	if err != nil {
		return "", nil, 0, err
	}
	return p.BundlePath(env), env.MasterKeyGroups(), env.Threshold(), nil
}

// bundleArg returns the bundle of a command that takes one, and nothing
// else: --env NAME, or the one argument; else a usage error.
func bundleArg(c *cli.Context) (string, error) {
	path, rest, err := bundleAndArgs(c, 0, 0)
	if err != nil {
		return "", err
	}
	if len(rest) > 0 {
		return "", usageOf(c)
	}
	return path, nil
}

// envFlag is --env NAME on a command that takes a bundle path.
func envFlag() cli.Flag {
	return &cli.StringFlag{Name: "env", Usage: "the bundle of environment `NAME` in the policy, instead of a BUNDLE argument"}
}

// bundleAndArgs returns the bundle a command works on and the arguments
// after it, of which there must be min to max (max < 0: any number): the
// bundle of the policy's environment --env NAME, or the first argument.
func bundleAndArgs(c *cli.Context, min, max int) (string, []string, error) {
	args := c.Args().Slice()
	path := ""
	if name := c.String("env"); name != "" {
		p, env, err := loadEnv(c, name)
		if err != nil {
			return "", nil, err
		}
		path = displayPath(p.BundlePath(env))
	} else {
		if len(args) == 0 {
			return "", nil, usageOf(c)
		}
		path, args = args[0], args[1:]
	}
	if len(args) < min || max >= 0 && len(args) > max {
		return "", nil, usageOf(c)
	}
	return path, args, nil
}

// usageOf is the usage error of a command that takes a bundle.
func usageOf(c *cli.Context) error {
	u := strings.TrimSpace(c.Command.ArgsUsage)
	rest := strings.TrimSpace(strings.TrimPrefix(u, "BUNDLE"))
	if c.String("env") != "" {
		return fmt.Errorf("usage: sealenv %s --env NAME %s (--env names the bundle: drop BUNDLE)", c.Command.Name, rest)
	}
	return fmt.Errorf("usage: sealenv %s %s, or sealenv %s --env NAME %s", c.Command.Name, u, c.Command.Name, rest)
}

// displayPath shows a path relative to the working directory when it lies
// below it, as a person would type it.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return rel
}

// pathError names path in a file error once: "PATH: reason" for an
// *fs.PathError (whatever path the operation saw), err itself otherwise
// (an error of ours names its file already).
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return err
}
