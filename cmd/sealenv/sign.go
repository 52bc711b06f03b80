package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal/signature"
	"github.com/sealenv/sealenv/seal/signing"
)

// signKeyFlag is the signing key of every command that writes a bundle.
func signKeyFlag() cli.Flag {
	return &cli.StringFlag{
		Name: "sign-key",
		Usage: "sign what is written with the SSH key `FILE` (a private key, or a .pub whose key ssh-agent holds; or key::PUBLIC-KEY) " +
			"(default: $SEALENV_SIGN_KEY, then git's user.signingkey when gpg.format is ssh)",
	}
}

// signingKey finds the configured signing key for a bundle at path (its
// git configuration is the one of its repository); nil when none is
// configured.
func (e *env) signingKey(c *cli.Context, path string) (*signing.Key, error) {
	k, err := signing.Find(signing.Lookup{
		Explicit:   c.String("sign-key"),
		Describe:   "--sign-key",
		Getenv:     e.getenv,
		GitDir:     existingDir(path),
		Passphrase: askPassphrase,
	})
	if errors.Is(err, signing.ErrNoKey) {
		return nil, nil
	}
	return k, err
}

// existingDir is the nearest directory of path that exists.
func existingDir(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// askPassphrase asks for a key file's passphrase on the terminal, as
// ssh-keygen does (not on stdin, which may carry a value).
func askPassphrase(path string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("protected by a passphrase and there is no terminal to ask on: add it to ssh-agent (ssh-add %s)", path)
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return nil, fmt.Errorf("protected by a passphrase and there is no terminal to ask on: add it to ssh-agent (ssh-add %s)", path)
	}
	fmt.Fprintf(tty, "passphrase for %s: ", path)
	p, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return p, err
}

// fleetSigning is how rekey --all and rotate --due sign what they write.
func (e *env) fleetSigning(c *cli.Context, p *policies.Policy) (fleet.Signing, func(), error) {
	if c.Bool("dry-run") {
		return fleet.Signing{}, func() {}, nil // nothing is written
	}
	key, err := e.signingKey(c, p.Path)
	if err != nil {
		return fleet.Signing{}, nil, err
	}
	if key == nil {
		return fleet.Signing{Removed: func(b string) {
			fmt.Fprintf(e.stderr, "sealenv: warning: %s changed and is now unsigned: its signature no longer matched and was removed; sign it with sealenv sign %s\n", b, b)
		}}, func() {}, nil
	}
	return fleet.Signing{Sign: key.Sign}, func() { key.Close() }, nil
}

func signCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign bundles as they are, after a review (writes BUNDLE.sig)",
		ArgsUsage: "BUNDLE...",
		Description: "Signs each bundle's exact bytes with an SSH key (sshsig, namespace " + signature.Namespace + "),\n" +
			"into BUNDLE.sig, which ssh-keygen -Y verify, sealenv check and the injector\n" +
			"check. Use it after reviewing a change that sealenv did not sign, such as a\n" +
			"teammate's sops edit. The bundle itself is not changed and no identity is needed:\n" +
			"a signature says that you vouch for these bytes, so review them first\n" +
			"(git diff, sealenv show, sealenv reveal).\n" +
			"The key: --sign-key, else $SEALENV_SIGN_KEY, else git's user.signingkey when\n" +
			"gpg.format is ssh. With a policy, a key that the bundle's environment does not\n" +
			"allow is refused.",
		Flags: []cli.Flag{signKeyFlag(), policyFlag(), storeFlag(), envFlag()},
		Action: func(c *cli.Context) error {
			paths := c.Args().Slice()
			if c.String("env") != "" {
				path, _, err := bundleAndArgs(c, 0, 0)
				if err != nil {
					return err
				}
				paths = []string{path}
			}
			if len(paths) == 0 {
				return errors.New("usage: sealenv sign BUNDLE... [--sign-key FILE], or sealenv sign --env NAME")
			}
			for _, path := range paths {
				if err := e.signOne(c, path); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// signOne signs one bundle under its lock.
func (e *env) signOne(c *cli.Context, path string) error {
	return writeError(path, bundlefile.Sign(path, e.writeOptions(c)))
}

func signersCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "signers",
		Usage:     "print an environment's signers as an allowed signers file (for the injector's --signers)",
		ArgsUsage: " ",
		Description: "The file is in the format of ssh-keygen -Y verify and git's gpg.ssh.allowedSignersFile:\n" +
			"one line per signer key of the environment's signers: in sealenv.yaml, each limited to\n" +
			"namespace " + signature.Namespace + ", and every signers file as it is. sealenv wrap puts\n" +
			"it into the image; a Dockerfile build copies it to /etc/sealenv/allowed_signers.",
		Flags: []cli.Flag{
			policyFlag(),
			&cli.StringFlag{Name: "env", Usage: "environment `NAME` (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 || c.String("env") == "" {
				return errors.New("usage: sealenv signers --env NAME [-o FILE]")
			}
			p, env, err := loadEnv(c, c.String("env"))
			if err != nil {
				return err
			}
			if !env.Signed() {
				return fmt.Errorf("%s: environment %q has no signers", p.Path, env.Name)
			}
			text := env.AllowedSignersFile()
			if out := c.String("output"); out != "" {
				if err := fsutil.WriteFileAtomic(out, text, 0o644); err != nil {
					return fmt.Errorf("%s: %w", out, fsutil.Reason(err))
				}
				return nil
			}
			_, err = e.stdout.Write(text)
			return err
		},
	}
}

// readSignature reads the signature file of the bundle at path (next to
// its target, if path is a symlink), or nil when it has none.
func readSignature(path string) ([]byte, error) {
	f, err := os.Open(signature.Locate(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", signature.Path(path), fsutil.Reason(err))
	}
	defer f.Close()
	sig, err := io.ReadAll(io.LimitReader(f, signature.MaxSignatureSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", signature.Path(path), fsutil.Reason(err))
	}
	return sig, nil
}

// wrapSigners is the allowed signers file sealenv wrap puts into the
// image: --signers FILE; else the signers of --env; else, with a policy,
// those of every environment one of the --bundle files belongs to; nil
// when none applies.
func (e *env) wrapSigners(c *cli.Context) ([]byte, error) {
	if f := c.String("signers"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--signers: %s: %w", f, fsutil.Reason(err))
		}
		if _, err := signature.ParseAllowedSigners(data); err != nil {
			return nil, fmt.Errorf("--signers: %s: %w", f, err)
		}
		return data, nil
	}
	if name := c.String("env"); name != "" {
		_, env, err := loadEnv(c, name)
		if err != nil {
			return nil, err
		}
		if !env.Signed() {
			return nil, nil
		}
		return env.AllowedSignersFile(), nil
	}
	var out []byte
	seen := map[string]bool{}
	for _, b := range c.StringSlice("bundle") {
		real, err := filepath.EvalSymlinks(b)
		if err != nil {
			continue // reported when the bundle is read
		}
		env, _, err := bundlefile.EnvOf(c.String("policy"), real)
		if err != nil {
			return nil, err
		}
		if env == nil || !env.Signed() || seen[env.Name] {
			continue
		}
		seen[env.Name] = true
		out = append(out, env.AllowedSignersFile()...)
	}
	return out, nil
}
