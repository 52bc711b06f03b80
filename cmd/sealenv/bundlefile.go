package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/fleet"
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

// loadBundleAt opens the bundle at real (named path in errors) for
// editing with the identity.
func (e *env) loadBundleAt(c *cli.Context, path, real string) (*author.Bundle, error) {
	data, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	f, err := bundleFormat(c, path, data)
	if err != nil {
		return nil, err
	}
	found, err := e.identities(c)
	if err != nil {
		return nil, err
	}
	var opts []author.LoadOption
	// sealenv adopt is --allow-unauthenticated without another change.
	if c.Bool("allow-unauthenticated") || c.Command.Name == "adopt" {
		opts = append(opts, author.AdoptUnauthenticated())
	}
	b, err := author.Load(f, data, found.Identities, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w%s", path, err, adoptHint(err, path))
	}
	b.Now = e.now
	e.sawAuthor(b)
	return b, nil
}

// adoptHint is the way out of an unauthenticated change: the one command a
// person runs after review.
func adoptHint(err error, path string) string {
	if !errors.Is(err, seal.ErrUnauthenticated) {
		return ""
	}
	return fmt.Sprintf("; review the bundle (sealenv reveal %s), then run sealenv adopt %s, or pass --allow-unauthenticated to this write", path, path)
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

// editBundle is the read-modify-write that every command changing one
// bundle runs: it finishes or rolls back an interrupted fleet write,
// resolves path (refusing a symlink out of its repository), locks the
// bundle, loads it with the identity, lets change edit it and, when change
// says so, writes it (through a symlink), holding the lock throughout.
func (e *env) editBundle(c *cli.Context, path string, change func(*author.Bundle) (bool, error)) error {
	if err := e.recoverFleet(c, path); err != nil {
		return err
	}
	real, err := fsutil.Resolve(path, repoRoot(path))
	if err != nil {
		return err
	}
	key, err := e.signingKey(c, real) // before anything changes: a key that cannot sign stops the write
	if err != nil {
		return err
	}
	defer key.Close()
	unlock, err := lockBundle(path, real)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := e.loadBundleAt(c, path, real)
	if err != nil {
		return err
	}
	defer b.Zero()
	save, err := change(b)
	if err != nil || !save {
		return err
	}
	if checksNames(c) {
		if err := refuseNames(c, path, real, envNames(b)); err != nil {
			return err
		}
	}
	out, err := b.Marshal()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return e.writeSigned(path, real, out, key)
}

// recoverFleet finishes or rolls back an interrupted rekey --all or rotate
// --due in the policy's directory (and the repository of each path), and
// says so on stderr.
// lockBundle takes the write lock of bundle real (named path to the user),
// waiting up to SEALENV_LOCK_TIMEOUT for another sealenv command to finish.
func lockBundle(path, real string) (unlock func(), err error) {
	unlock, err = fsutil.Lock(real, fsutil.LockWait())
	switch {
	case errors.Is(err, fsutil.ErrLocked):
		return nil, fmt.Errorf("%s: %w; gave up after %s (set SEALENV_LOCK_TIMEOUT to wait longer)", path, fsutil.ErrLocked, fsutil.LockWait())
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	return unlock, nil
}

func (e *env) recoverFleet(c *cli.Context, paths ...string) error {
	if err := fsutil.CheckLockWait(); err != nil {
		return err // every writer and check come here first
	}
	var roots []string
	if p := c.String("policy"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		roots = append(roots, filepath.Dir(abs))
	} else if p, err := policies.Find("."); err == nil {
		roots = append(roots, filepath.Dir(p))
	}
	for _, path := range paths {
		if r := repoRoot(path); r != "" {
			roots = append(roots, r)
		}
	}
	done := map[string]bool{}
	for _, r := range roots {
		if done[r] {
			continue
		}
		done[r] = true
		msg, err := fleet.Recover(r)
		if err != nil {
			return err
		}
		if msg != "" {
			fmt.Fprintf(e.stderr, "sealenv: %s\n", msg)
		}
	}
	return nil
}

// repoRoot is the repository a path lies in: the directory of the
// sealenv.yaml above it, else the git top level (a directory with .git),
// else "" (no repository: nothing to stay inside).
func repoRoot(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	dir := filepath.Dir(abs)
	if p, err := policies.Find(dir); err == nil {
		return filepath.Dir(p)
	}
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
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
	path      string
	groups    [][]seal.MasterKey
	threshold int
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
	t := &envTarget{path: p.BundlePath(env), threshold: env.Threshold()}
	for _, g := range env.MasterKeys() {
		var keys []seal.MasterKey
		for _, r := range g {
			keys = append(keys, r.MasterKey())
		}
		t.groups = append(t.groups, keys)
	}
	return t, nil
}

// sopsCreationRule is the .sops.yaml creation rule sops would apply to a
// new file at path, when run here: nil without a .sops.yaml (or one without
// creation rules); an error matching author.ErrNoCreationRule when none
// matches the path.
func (e *env) sopsCreationRule(path string) (*author.CreationRule, error) {
	conf, err := author.FindSopsConfig(e.getenv, ".")
	if err != nil || conf == "" {
		return nil, err
	}
	return author.CreationRuleFor(conf, path)
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
		p, err := loadPolicy(c)
		if err != nil {
			return "", nil, err
		}
		env, err := p.Env(name)
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
