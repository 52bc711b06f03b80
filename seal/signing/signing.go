// Package signing signs bundles with the SSH keys people already have: the
// key git signs commits with (user.signingkey with gpg.format=ssh), a key
// file, a key held by ssh-agent (also a FIDO security key), or, in CI, a
// deploy key in a secret variable. Signatures are sshsig signatures
// (github.com/hiddeco/sshsig, the format of `ssh-keygen -Y sign`) of the
// bundle's exact bytes in namespace [signature.Namespace], checked by
// package [github.com/sealenv/sealenv/seal/signature] before they are
// returned.
//
// # Where the key comes from
//
// [Find] takes the first of: an explicit key (the CLI's --sign-key), the
// variable SEALENV_SIGN_KEY, and git's user.signingkey when gpg.format is
// ssh. Each names the key the way git's user.signingkey does:
//
//   - a private key file (OpenSSH or PEM); a passphrase-protected one is
//     used through ssh-agent when the agent holds it, else after asking for
//     the passphrase on a terminal;
//   - a public key file (KEY.pub): ssh-agent signs with it, else the
//     private key beside it (KEY), as ssh-keygen -Y sign does for git
//     commit -S;
//   - the key itself as "key::ssh-ed25519 AAAA..." (or "ssh-ed25519
//     AAAA..."): ssh-agent signs with it, else the default key file in
//     ~/.ssh (id_ed25519, id_rsa, ...) whose .pub it is.
//
// SEALENV_SIGN_KEY may also hold the private key's text (a CI secret), which
// is parsed in memory and never written anywhere. No private key is ever
// printed, put in an error, or accepted on a command line.
package signing

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

// EnvSignKey names the signing key: a file, "key::PUBLIC KEY", or the
// private key's text. The injector and the policy's generator commands
// never pass it on (it is among [seal.IdentityEnvVars]).
const EnvSignKey = seal.EnvSignKey

// maxKeyFile caps a key file.
const maxKeyFile = 1 << 20

// ErrNoKey means no signing key is configured anywhere.
var ErrNoKey = errors.New("no signing key configured")

// Key is a signing key, ready to sign.
type Key struct {
	signer ssh.Signer
	pub    *signature.PublicKey
	closer io.Closer // the agent connection, if any
	// Source says where the key was configured: the explicit key's
	// description, "SEALENV_SIGN_KEY", or "git user.signingkey".
	Source string
	// Agent is true when ssh-agent signs.
	Agent bool
}

// PublicKey is the key that signatures name as their signer.
func (k *Key) PublicKey() *signature.PublicKey { return k.pub }

// Close releases the agent connection, if any.
func (k *Key) Close() error {
	if k == nil || k.closer == nil {
		return nil
	}
	return k.closer.Close()
}

// Sign signs bundle, the exact bytes of a bundle file, and returns the
// armored signature that goes into [signature.Path]. The signature is
// verified with package signature (the injector's verifier) before it is
// returned.
func (k *Key) Sign(bundle []byte) ([]byte, error) {
	s, err := sshsig.Sign(bytes.NewReader(bundle), k.signer, sshsig.HashSHA512, signature.Namespace)
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %s", k.describe(), reason(err))
	}
	armored := sshsig.Armor(s)
	parsed, err := signature.Parse(armored)
	if err == nil {
		err = parsed.Verify(bundle)
	}
	if err == nil && !parsed.Key.Equal(k.pub) {
		err = errors.New("the signature names another key")
	}
	if err != nil {
		return nil, fmt.Errorf("signing with %s: the signature does not verify: %w", k.describe(), err)
	}
	return armored, nil
}

func (k *Key) describe() string {
	return k.pub.Type + " " + k.pub.Fingerprint()
}

// Lookup says where to look for a signing key.
type Lookup struct {
	// Explicit names the key directly (the CLI's --sign-key): a file or
	// "key::PUBLIC KEY". Private key text is refused here.
	Explicit string
	// Describe names Explicit in messages ("--sign-key"); empty: "the
	// signing key".
	Describe string
	// Getenv looks up SEALENV_SIGN_KEY; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// GitDir is where git config is read (the repository of the bundle);
	// empty: the working directory.
	GitDir string
	// NoGit skips git's configuration.
	NoGit bool
	// Agent connects to ssh-agent; nil dials $SSH_AUTH_SOCK.
	Agent func() (agent.ExtendedAgent, io.Closer, error)
	// Passphrase asks for a key file's passphrase; nil: a
	// passphrase-protected key file must be in ssh-agent.
	Passphrase func(path string) ([]byte, error)
}

// Find returns the first configured signing key, [ErrNoKey] when none is
// configured, or an error that says why the configured one cannot sign.
func Find(l Lookup) (*Key, error) {
	if l.Getenv == nil {
		l.Getenv = os.LookupEnv
	}
	if l.Agent == nil {
		l.Agent = dialAgent(l.Getenv)
	}
	if l.Describe == "" {
		l.Describe = "the signing key"
	}
	if l.Explicit != "" {
		if strings.Contains(l.Explicit, "PRIVATE KEY") {
			return nil, fmt.Errorf("%s: takes a file or key::PUBLIC-KEY, never a private key's text (use %s for that)", l.Describe, EnvSignKey)
		}
		return load(l, l.Explicit, l.Describe, false)
	}
	if v, ok := l.Getenv(EnvSignKey); ok && strings.TrimSpace(v) != "" {
		return load(l, v, EnvSignKey, true)
	}
	if l.NoGit {
		return nil, ErrNoKey
	}
	format, err := gitConfig(l.GitDir, "gpg.format")
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(format, "ssh") {
		return nil, ErrNoKey
	}
	spec, err := gitConfig(l.GitDir, "user.signingkey")
	if err != nil {
		return nil, err
	}
	if spec == "" {
		return nil, ErrNoKey
	}
	if p, ok := strings.CutPrefix(spec, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			spec = filepath.Join(home, p)
		}
	}
	return load(l, spec, "git user.signingkey", false)
}

// load reads a key spec from source. Text is allowed only from a variable.
func load(l Lookup, spec, source string, text bool) (*Key, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{source}, args...)...)
	}
	spec = strings.TrimSpace(spec)
	var data []byte
	path := ""
	switch {
	case strings.HasPrefix(spec, "-----BEGIN"):
		if !text {
			return nil, fail("private key text is accepted only in %s", EnvSignKey)
		}
		data = []byte(spec + "\n")
	case strings.HasPrefix(spec, "key::"):
		return fromAgentOrHome(l, strings.TrimPrefix(spec, "key::"), source)
	case strings.HasPrefix(spec, "ssh-") || strings.HasPrefix(spec, "sk-") || strings.HasPrefix(spec, "ecdsa-"):
		return fromAgentOrHome(l, spec, source)
	default:
		path = spec
		var err error
		if data, err = readKeyFile(path); err != nil {
			if text {
				// The variable may hold a key in a form not recognised:
				// it is not echoed.
				return nil, fail("neither a readable key file nor key text (-----BEGIN..., key::, ssh-...): %v", pathReason(err))
			}
			return nil, fail("%s: %v", path, pathReason(err))
		}
	}
	defer clear(data)
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		// A public key file: ssh-agent holds the private half, or, as
		// ssh-keygen -Y sign finds it for git commit -S, the file beside
		// it without ".pub".
		public := string(bytes.TrimSpace(data))
		k, err := fromAgent(l, public, source)
		if err == nil || path == "" || !strings.HasSuffix(path, ".pub") {
			return k, err
		}
		if k, perr := fromPrivateBeside(l, strings.TrimSuffix(path, ".pub"), public, source); !errors.Is(perr, errNoPrivate) {
			return k, perr
		}
		return nil, fmt.Errorf("%w; nor is its private half beside it (%s)", err, strings.TrimSuffix(path, ".pub"))
	}
	return fromPrivate(l, data, path, source)
}

// readKeyFile reads a key file, at most maxKeyFile bytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		clear(data)
		return nil, errors.New("larger than 1 MiB")
	}
	return data, nil
}

// fromPrivate parses a private key (from the file path, or text when path
// is ""), asking for its passphrase when it has one and ssh-agent does
// not hold it.
func fromPrivate(l Lookup, data []byte, path, source string) (*Key, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{source}, args...)...)
	}
	where := "the key"
	if path != "" {
		where = path
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if missing.PublicKey != nil {
			if k, aerr := fromAgent(l, string(ssh.MarshalAuthorizedKey(missing.PublicKey)), source); aerr == nil {
				return k, nil
			}
		}
		if l.Passphrase == nil || path == "" {
			return nil, fail("%s is protected by a passphrase: add it to ssh-agent (ssh-add %s)", where, shellPath(path))
		}
		pass, perr := l.Passphrase(path)
		if perr != nil {
			return nil, fail("%s: %v", where, perr)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(data, pass)
		clear(pass)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fail("%s: wrong passphrase", where)
		}
	}
	if err != nil {
		return nil, fail("%s is not a usable SSH private key", where)
	}
	return newKey(signer, nil, source, false)
}

// errNoPrivate is fromPrivateBeside's answer when there is no such file.
var errNoPrivate = errors.New("no private key file")

// fromPrivateBeside uses the private key file priv, which must hold the
// private half of public.
func fromPrivateBeside(l Lookup, priv, public, source string) (*Key, error) {
	data, err := readKeyFile(priv)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoPrivate
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v", source, priv, pathReason(err))
	}
	defer clear(data)
	k, err := fromPrivate(l, data, priv, source)
	if err != nil {
		return nil, err
	}
	want, err := signature.ParseAuthorizedKey(public)
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	if !bytes.Equal(k.signer.PublicKey().Marshal(), want.Blob) {
		k.Close()
		return nil, fmt.Errorf("%s: %s is not the private half of %s %s", source, priv, want.Type, want.Fingerprint())
	}
	return k, nil
}

// homeKeys are the private key files ssh looks for by default, in its
// order, under ~/.ssh.
var homeKeys = []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk"}

// fromAgentOrHome uses the private half of public from ssh-agent, else
// from the default key files in ~/.ssh whose public key (KEY.pub) it is:
// git's "key::" signing key with no agent running.
func fromAgentOrHome(l Lookup, public, source string) (*Key, error) {
	k, err := fromAgent(l, public, source)
	if err == nil {
		return k, nil
	}
	want, perr := signature.ParseAuthorizedKey(public)
	home, herr := os.UserHomeDir()
	if perr != nil || herr != nil {
		return nil, err
	}
	for _, name := range homeKeys {
		priv := filepath.Join(home, ".ssh", name)
		pub, rerr := os.ReadFile(priv + ".pub")
		if rerr != nil {
			continue
		}
		have, perr := signature.ParseAuthorizedKey(strings.TrimSpace(string(pub)))
		if perr != nil || !bytes.Equal(have.Blob, want.Blob) {
			continue
		}
		if k, perr := fromPrivateBeside(l, priv, public, source); !errors.Is(perr, errNoPrivate) {
			return k, perr
		}
	}
	return nil, fmt.Errorf("%w; nor is it the public half of a key in ~/.ssh (%s)", err, strings.Join(homeKeys, ", "))
}

func shellPath(p string) string {
	if p == "" {
		return "KEYFILE"
	}
	return p
}

func newKey(signer ssh.Signer, closer io.Closer, source string, viaAgent bool) (*Key, error) {
	pub, err := signature.ParsePublicKey(signer.PublicKey().Marshal())
	if err == nil && !pub.Supported() {
		err = fmt.Errorf("%s keys cannot sign bundles: the injector verifies ssh-ed25519, sk-ssh-ed25519@openssh.com and ssh-rsa keys (make one with ssh-keygen -t ed25519)", pub.Type)
	}
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &Key{signer: signer, pub: pub, closer: closer, Source: source, Agent: viaAgent}, nil
}

// fromAgent finds the private half of a public key in ssh-agent.
func fromAgent(l Lookup, public, source string) (*Key, error) {
	want, err := signature.ParseAuthorizedKey(public)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	ag, closer, err := l.Agent()
	if err != nil {
		return nil, fmt.Errorf("%s: the key %s %s is to be used through ssh-agent: %v", source, want.Type, want.Fingerprint(), err)
	}
	signers, err := ag.Signers()
	if err != nil {
		closer.Close()
		return nil, fmt.Errorf("%s: ssh-agent: %v", source, reason(err))
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), want.Blob) {
			return newKey(s, closer, source, true)
		}
	}
	closer.Close()
	return nil, fmt.Errorf("%s: ssh-agent does not hold the key %s %s (add it with ssh-add)", source, want.Type, want.Fingerprint())
}

// dialAgent connects to the agent at $SSH_AUTH_SOCK.
func dialAgent(getenv func(string) (string, bool)) func() (agent.ExtendedAgent, io.Closer, error) {
	return func() (agent.ExtendedAgent, io.Closer, error) {
		sock, ok := getenv("SSH_AUTH_SOCK")
		if !ok || sock == "" {
			return nil, nil, errors.New("SSH_AUTH_SOCK is not set (no ssh-agent)")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot reach ssh-agent at %s: %v", sock, pathReason(err))
		}
		return agent.NewClient(conn), conn, nil
	}
}

// gitConfig reads one git configuration value where git would, or "" when
// it is unset or git is not installed.
func gitConfig(dir, name string) (string, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return "", nil
	}
	args := []string{"config", "--get", name}
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command(git, args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return "", nil // unset
	}
	if err != nil {
		return "", fmt.Errorf("reading git config %s: %v", name, reason(err))
	}
	return strings.TrimSpace(string(out)), nil
}

// reason shortens an error for a message.
func reason(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// pathReason reduces a file error to its cause; the caller names the path.
func pathReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
