package bundlefile

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/recipients"
)

// New says what a new bundle holds and who may decrypt it, for [Seal].
type New struct {
	// Path is where the bundle goes; with Env, the environment's.
	Path string
	// Env is an environment of the policy ([Options.Policy], else the
	// sealenv.yaml found from the working directory): its bundle path and
	// its keys by key group.
	Env string
	// Keys are the keys a person gave, without Env (age's -r and -R).
	Keys []seal.MasterKey
	// Getenv finds $SOPS_AGE_RECIPIENTS and $SOPS_CONFIG (nil:
	// os.LookupEnv).
	Getenv func(string) (string, bool)
	// Input returns the plaintext to seal (dotenv, YAML or JSON, of the
	// bundle's store), nil for an empty bundle. It is called once, when
	// where the bundle goes, who may decrypt it and its store are known,
	// before anything is written. InputName names it in errors.
	Input     func(path string, store seal.Format) ([]byte, error)
	InputName string
	// Dialect is how a dotenv input is read (see [author.ParseDialect]).
	Dialect string
}

// Sealed is what [Seal] wrote.
type Sealed struct {
	Path       string
	Keys       int // values
	Recipients int // master keys
	// From says where the keys came from when nobody gave them:
	// "$SOPS_AGE_RECIPIENTS" or a .sops.yaml; "" otherwise.
	From string
}

var (
	// ErrNoRecipients: nothing says who may decrypt a new bundle.
	ErrNoRecipients = errors.New("no recipients for the bundle")
	// ErrExists: a new bundle would replace a file ([Options.Replace]
	// allows it).
	ErrExists = errors.New("already exists")
	// ErrUnknownStore: neither the bundle's name nor [Options.Store] says
	// its store.
	ErrUnknownStore = errors.New("unknown store: name the bundle *.env, *.yaml or *.json")
)

// Seal writes a new bundle ([Create]) with the values of n's input, sealed
// to the keys that [Recipients] finds, with the encryption rules of the
// .sops.yaml creation rule for its path.
func Seal(n New, o Options) (*Sealed, error) {
	to, err := Recipients(n, o.Policy)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(to.Path); err == nil && !o.Replace {
		return nil, fmt.Errorf("%s %w", to.Path, ErrExists)
	}
	format, err := newFormat(to.Path, &o)
	if err != nil {
		return nil, err
	}
	var plain []byte
	if n.Input != nil {
		if plain, err = n.Input(to.Path, format); err != nil {
			return nil, err
		}
		defer clear(plain)
	}
	b, err := newBundle(format, to, &o)
	if err != nil {
		return nil, err
	}
	defer b.Zero()
	if plain != nil {
		if err := importPlain(b, plain, n); err != nil {
			return nil, err
		}
	}
	if err := Create(to.Path, o, b); err != nil {
		return nil, err
	}
	return &Sealed{Path: to.Path, Keys: len(b.Names()), Recipients: len(b.MasterKeys()), From: to.From}, nil
}

// newFormat is the store of a new bundle at path.
func newFormat(path string, o *Options) (seal.Format, error) {
	format := seal.FormatForPath(path)
	if o.Store != "" {
		f, err := seal.ParseFormat(o.Store)
		if err != nil {
			return 0, &SettingError{Setting: "store", Err: err}
		}
		format = f
	}
	if format == 0 {
		return 0, fmt.Errorf("%s: %w", path, ErrUnknownStore)
	}
	return format, nil
}

// newBundle is an empty bundle of format to the keys of to, with the
// encryption rules of its creation rule.
func newBundle(format seal.Format, to *Keys, o *Options) (*author.Bundle, error) {
	b, err := author.NewWithKeys(format, to.Groups, to.Threshold)
	if err != nil {
		return nil, err
	}
	if o.Now != nil {
		b.Now = o.Now
	}
	if to.Rule != nil {
		if err := b.SetRules(to.Rule.Rules); err != nil {
			b.Zero()
			return nil, fmt.Errorf("%s: %w", to.Rule.Config, err)
		}
	}
	return b, nil
}

// importPlain adds the values of the plaintext input to b.
func importPlain(b *author.Bundle, plain []byte, n New) error {
	dialect, err := author.ParseDialect(n.Dialect)
	if err != nil {
		return &SettingError{Setting: "dialect", Err: err}
	}
	if _, err := b.Import(plain, dialect); err != nil {
		return fmt.Errorf("%s: %w", n.InputName, err)
	}
	return nil
}

// Keys are where a new bundle goes and who may decrypt it, as [Recipients]
// finds them.
type Keys struct {
	Path      string
	Groups    [][]seal.MasterKey
	Threshold int // 0: every group, or no groups
	// From says where the keys came from when nobody gave them:
	// "$SOPS_AGE_RECIPIENTS" or the .sops.yaml of Rule; "" otherwise.
	From string
	// Rule is the .sops.yaml creation rule for the path, whose encryption
	// rules apply whoever gives the keys; nil without one.
	Rule *author.CreationRule
}

// Recipients finds where a new bundle goes and who may decrypt it, in
// sops's order: an environment's path and keys (n.Env, of the policy file
// policy, else the one found from the working directory); else the keys a
// person gave (n.Keys); else $SOPS_AGE_RECIPIENTS (sops's --age); else the
// keys of the .sops.yaml creation rule for the path ($SOPS_CONFIG, else
// .sops.yaml in the working directory or above). Without any, the error
// matches [ErrNoRecipients], or [author.ErrNoCreationRule] when a
// .sops.yaml has rules but none for the path.
func Recipients(n New, policy string) (*Keys, error) {
	getenv := n.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	k := &Keys{Path: n.Path}
	if n.Env != "" {
		if err := k.fromEnv(policy, n.Env); err != nil {
			return nil, err
		}
	} else if len(n.Keys) > 0 {
		k.Groups = [][]seal.MasterKey{n.Keys}
	}
	rule, err := creationRule(getenv, k.Path)
	if err != nil && !errors.Is(err, author.ErrNoCreationRule) {
		return nil, err
	}
	k.Rule = rule
	if len(k.Groups) > 0 {
		return k, nil
	}
	if v, ok := getenv("SOPS_AGE_RECIPIENTS"); ok && strings.TrimSpace(v) != "" {
		keys, err := parseKeys(strings.Split(v, ","))
		if err != nil {
			return nil, fmt.Errorf("SOPS_AGE_RECIPIENTS: %w", err)
		}
		k.Groups, k.From = [][]seal.MasterKey{keys}, "$SOPS_AGE_RECIPIENTS"
		return k, nil
	}
	switch {
	case rule != nil:
		k.Groups, k.Threshold, k.From = rule.Groups, rule.Threshold, rule.Config
	case err != nil:
		return nil, err
	}
	if len(k.Groups) == 0 {
		return nil, ErrNoRecipients
	}
	return k, nil
}

// fromEnv takes the path and keys of environment name of the policy.
func (k *Keys) fromEnv(policy, name string) error {
	if policy == "" {
		var err error
		if policy, err = policies.Find("."); err != nil {
			return err
		}
	}
	p, err := policies.Load(policy)
	if err != nil {
		return err
	}
	env, err := p.Env(name)
	if err != nil {
		return err
	}
	k.Path, k.Groups, k.Threshold = p.BundlePath(env), env.MasterKeyGroups(), env.Threshold()
	return nil
}

// creationRule is the .sops.yaml creation rule sops would apply to a new
// file at path, when run in the working directory: nil without a
// .sops.yaml (or one without creation rules); an error matching
// [author.ErrNoCreationRule] when none matches the path.
func creationRule(getenv func(string) (string, bool), path string) (*author.CreationRule, error) {
	conf, err := author.FindSopsConfig(getenv, ".")
	if err != nil || conf == "" {
		return nil, err
	}
	return author.CreationRuleFor(conf, path)
}

// parseKeys reads keys as a person types them: age and SSH keys as they
// are, other key types as TYPE:ID.
func parseKeys(rs []string) ([]seal.MasterKey, error) {
	var out []seal.MasterKey
	for _, r := range rs {
		k, err := recipients.Parse(r)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}
