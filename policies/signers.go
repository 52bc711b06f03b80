package policies

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal/signature"
)

// Signer is one entry of an environment's signers: who may sign its
// bundle. It is either a principal with an SSH public key, or an allowed
// signers file (the format git's gpg.ssh.allowedSignersFile and
// ssh-keygen -Y verify read) whose every line counts, with its options.
type Signer struct {
	Principal string `yaml:"principal"` // a name or email: who signs
	Key       string `yaml:"key"`       // ssh-ed25519, sk-ssh-ed25519@openssh.com or ssh-rsa public key
	File      string `yaml:"file"`      // an allowed signers file, relative to sealenv.yaml
}

// Rule IDs of signature violations.
const (
	RuleUnsigned         = "unsigned"           // the policy names signers, the bundle has no signature
	RuleBadSignature     = "bad-signature"      // malformed, or not a signature of the bundle's bytes
	RuleSignerNotAllowed = "signer-not-allowed" // a valid signature by a key the environment's signers do not allow
)

// compileSigners checks environment i's signers and builds its allowed
// signers file.
func (e *Environment) compileSigners(at func(...any) string, i int, read func(string) ([]byte, error)) error {
	fail := func(err error, where ...any) error {
		return fmt.Errorf("%s: environment %q: %v", at(append([]any{"environments", i, "signers"}, where...)...), e.Name, err)
	}
	var text bytes.Buffer
	seen := map[string]bool{}
	for j, s := range e.Signers {
		if s.File != "" {
			if s.Principal != "" || s.Key != "" {
				return fail(errors.New("a signers file entry takes no principal or key"), j)
			}
			data, err := read(s.File)
			if err != nil {
				return fail(err, j, "file")
			}
			if _, err := signature.ParseAllowedSigners(data); err != nil {
				return fail(fmt.Errorf("signers file %s: %v", s.File, strings.TrimPrefix(err.Error(), signature.ErrMalformedSigners.Error()+": ")), j, "file")
			}
			fmt.Fprintf(&text, "# from %s\n", filepath.ToSlash(s.File))
			text.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				text.WriteByte('\n')
			}
			continue
		}
		if err := checkPrincipal(s.Principal); err != nil {
			return fail(err, j)
		}
		if strings.TrimSpace(s.Key) == "" {
			return fail(fmt.Errorf("signer %q needs a key (ssh-ed25519 AAAA...) or a file", s.Principal), j)
		}
		if strings.Contains(s.Key, "PRIVATE KEY") {
			return fail(fmt.Errorf("signer %q: key is a private key; give its public half (the .pub file)", s.Principal), j, "key")
		}
		k, err := signature.ParseAuthorizedKey(s.Key)
		if err == nil && !k.Supported() {
			err = fmt.Errorf("%s keys cannot sign bundles (sealenv verifies ssh-ed25519, sk-ssh-ed25519@openssh.com and ssh-rsa)", k.Type)
		}
		if err != nil {
			return fail(fmt.Errorf("signer %q: %v", s.Principal, err), j, "key")
		}
		if seen[k.String()] {
			return fail(fmt.Errorf("signer key %s %s listed twice", k.Type, k.Fingerprint()), j, "key")
		}
		seen[k.String()] = true
		text.WriteString(signature.Line(s.Principal, k) + "\n")
	}
	if len(e.Signers) == 0 {
		return nil
	}
	a, err := signature.ParseAllowedSigners(text.Bytes())
	if err != nil {
		return fail(err) // cannot happen: every part parsed alone
	}
	e.allowed, e.allowedText = a, text.Bytes()
	return nil
}

// checkPrincipal accepts what an allowed signers file can hold as one
// principal without quoting or pattern meaning.
func checkPrincipal(p string) error {
	switch {
	case p == "":
		return errors.New("signer needs a principal: who signs, as in git's allowed_signers (alice@example.com)")
	case strings.ContainsAny(p, " \t\r\n\",*?!#") || strings.HasPrefix(p, "@"):
		return fmt.Errorf("signer principal %q may not hold white space, quotes, commas, wildcards or #", p)
	}
	return nil
}

// signersReader reads signers files: from the working tree under Root,
// or through readFile (a base policy's, from git).
func (p *Policy) signersReader() func(string) ([]byte, error) {
	if p.readFile == nil {
		return func(name string) ([]byte, error) { return readSignersFile(p.Root, name) }
	}
	return func(name string) ([]byte, error) {
		if filepath.IsAbs(name) || strings.HasPrefix(filepath.Clean(name), "..") {
			return nil, fmt.Errorf("signers file %s is outside the repository", name)
		}
		data, err := p.readFile(name)
		if err != nil {
			return nil, fmt.Errorf("signers file %s: %v", name, err)
		}
		if int64(len(data)) > signature.MaxAllowedSignersSize {
			return nil, fmt.Errorf("signers file %s: larger than %d bytes", name, signature.MaxAllowedSignersSize)
		}
		return data, nil
	}
}

// readSignersFile reads an allowed signers file named relative to root,
// which it may not leave.
func readSignersFile(root, name string) ([]byte, error) {
	if filepath.IsAbs(name) || strings.HasPrefix(filepath.Clean(name), "..") {
		return nil, fmt.Errorf("signers file %s is outside the repository", name)
	}
	path, err := fsutil.Resolve(filepath.Join(root, filepath.FromSlash(name)), root)
	if err != nil {
		return nil, fmt.Errorf("signers file %s: %v", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signers file %s: %v", name, fsutil.Reason(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, signature.MaxAllowedSignersSize+1))
	if err != nil {
		return nil, fmt.Errorf("signers file %s: %v", name, fsutil.Reason(err))
	}
	return data, nil
}

// Signed reports whether the policy names signers for the environment: its
// bundle must then be signed by one of them.
func (e *Environment) Signed() bool { return e.allowed != nil }

// AllowedSigners is the environment's signers as an allowed signers file,
// compiled; nil when the policy names none.
func (e *Environment) AllowedSigners() *signature.AllowedSigners { return e.allowed }

// AllowedSignersFile is the environment's signers in the allowed signers
// format, as the injector's --signers file: one line per key entry (with
// namespaces="bundle@sealenv.github.io"), and each file entry as it is.
// Empty when the policy names none.
func (e *Environment) AllowedSignersFile() []byte { return bytes.Clone(e.allowedText) }

// checkSignature checks the signature next to the bundle at path (whose
// content is data) against the environment's signers, when it has any.
func (p *Policy) checkSignature(env *Environment, path string, data []byte, now time.Time) []Violation {
	if !env.Signed() {
		return nil
	}
	sigName := env.Bundle + signature.Suffix
	v := func(rule, format string, args ...any) []Violation {
		return []Violation{{Env: env.Name, Bundle: env.Bundle, Rule: rule, Severity: SeverityError, Message: fmt.Sprintf(format, args...)}}
	}
	sig, err := readLimited(signature.Path(path), signature.MaxSignatureSize)
	if errors.Is(err, fs.ErrNotExist) {
		return v(RuleUnsigned, "bundle is not signed (no %s); the policy's signers of %s must sign it: sealenv sign %s", sigName, env.Name, env.Bundle)
	}
	if err != nil {
		return v(RuleBadSignature, "%s: %v", sigName, fsutil.Reason(err))
	}
	_, err = signature.Verify(data, sig, env.allowed, now)
	switch {
	case errors.Is(err, signature.ErrNotAllowed):
		return v(RuleSignerNotAllowed, "%s: %v; the policy's signers of %s do not allow it: one of them signs it with sealenv sign %s", sigName, strings.TrimPrefix(err.Error(), signature.ErrNotAllowed.Error()+": "), env.Name, env.Bundle)
	case err != nil:
		return v(RuleBadSignature, "%s: %v; review the bundle, then sign it with sealenv sign %s", sigName, err, env.Bundle)
	}
	return nil
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fsutil.Reason(err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return data, nil
}
