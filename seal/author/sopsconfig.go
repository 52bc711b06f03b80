package author

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/getsops/sops/v3/config"

	"github.com/sealenv/sealenv/seal"
)

// Rules are the SOPS encryption rules of a bundle: which values stay
// unencrypted. At most one may be set; none is sops's default, the
// unencrypted suffix "_unencrypted".
type Rules struct {
	UnencryptedSuffix string
	EncryptedSuffix   string
	UnencryptedRegex  string
	EncryptedRegex    string
}

func (r Rules) check() error {
	n := 0
	for _, s := range []string{r.UnencryptedSuffix, r.EncryptedSuffix, r.UnencryptedRegex, r.EncryptedRegex} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return errors.New("more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex")
	}
	for name, re := range map[string]string{"unencrypted_regex": r.UnencryptedRegex, "encrypted_regex": r.EncryptedRegex} {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("%s is not a valid regular expression", name)
		}
	}
	return nil
}

// SetRules sets the encryption rules of a bundle that holds no value yet
// (sops fixes them when a file is created).
func (b *Bundle) SetRules(r Rules) error {
	if err := r.check(); err != nil {
		return err
	}
	if len(b.Names()) > 0 {
		return errors.New("the encryption rules of a bundle with values cannot change")
	}
	if r == (Rules{}) {
		r.UnencryptedSuffix = seal.DefaultUnencryptedSuffix
	}
	md := &b.tree.Metadata
	md.UnencryptedSuffix, md.EncryptedSuffix, md.UnencryptedRegex, md.EncryptedRegex = r.UnencryptedSuffix, r.EncryptedSuffix, r.UnencryptedRegex, r.EncryptedRegex
	return nil
}

// CreationRule is what a .sops.yaml says about a new file at a path: who
// may decrypt it and its encryption rules.
type CreationRule struct {
	Config    string // the .sops.yaml it came from
	Groups    [][]seal.MasterKey
	Threshold int // 0: all groups (sops's default)
	Rules     Rules
}

// FindSopsConfig returns the .sops.yaml that sops run in dir would use:
// $SOPS_CONFIG when set, else the first .sops.yaml in dir or a directory
// above it (sops looks from its working directory, up to 100 levels). It
// returns "" when there is none.
func FindSopsConfig(getenv func(string) (string, bool), dir string) (string, error) {
	if p, ok := getenv("SOPS_CONFIG"); ok && p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SOPS_CONFIG: %s: %w", p, errors.Unwrap(err))
		}
		return p, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for i := 0; i < 100; i++ {
		p := filepath.Join(abs, ".sops.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", p, errors.Unwrap(err))
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			break
		}
		abs = parent
	}
	return "", nil
}

// ErrNoCreationRule: the .sops.yaml has creation rules, none for the path.
var ErrNoCreationRule = errors.New("no creation rule matches")

// CreationRuleFor reads the creation rule of the .sops.yaml at conf for the
// file at path, as sops picks it (the first rule whose path_regex matches the
// path relative to the config's directory). It returns nil and no error when
// the config has no creation rules, and [ErrNoCreationRule] when none
// matches. Rules that the slim reader cannot open (mac_only_encrypted,
// comment regexes) are an error.
func CreationRuleFor(conf, path string) (*CreationRule, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c, err := config.LoadCreationRuleForFile(conf, abs, nil)
	if err != nil {
		if strings.Contains(err.Error(), "no matching creation rules") {
			return nil, fmt.Errorf("%s: %w %s", conf, ErrNoCreationRule, path)
		}
		return nil, fmt.Errorf("%s: %s", conf, firstLine(err))
	}
	if c == nil {
		return nil, nil
	}
	if c.MACOnlyEncrypted {
		return nil, fmt.Errorf("%s: the rule for %s sets mac_only_encrypted, which leaves plaintext values unauthenticated; sealenv does not write such files", conf, path)
	}
	if c.EncryptedCommentRegex != "" || c.UnencryptedCommentRegex != "" {
		return nil, fmt.Errorf("%s: the rule for %s uses a comment regex, which sealenv does not support", conf, path)
	}
	r := &CreationRule{Config: conf, Threshold: c.ShamirThreshold, Rules: Rules{
		UnencryptedSuffix: c.UnencryptedSuffix, EncryptedSuffix: c.EncryptedSuffix,
		UnencryptedRegex: c.UnencryptedRegex, EncryptedRegex: c.EncryptedRegex,
	}}
	if err := r.Rules.check(); err != nil {
		return nil, fmt.Errorf("%s: %v", conf, err)
	}
	for g, group := range c.KeyGroups {
		var keys []seal.MasterKey
		for _, k := range group {
			keys = append(keys, masterKeyOf(k, g))
		}
		r.Groups = append(r.Groups, keys)
	}
	if len(r.Groups) == 0 {
		return nil, fmt.Errorf("%s: the rule for %s names no keys", conf, path)
	}
	return r, nil
}
