package fleet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// StarterOptions say where a new policy goes and whose key it names.
type StarterOptions struct {
	Root   string                      // the policy's directory
	Getenv func(string) (string, bool) // finds $SOPS_CONFIG; nil: os.LookupEnv
	// Recipient is the first recipient's public key (the person's), used
	// where no .sops.yaml says who may decrypt; Owner labels it.
	Recipient, Owner string
}

// ErrNoRecipient is returned by [StarterEnvs] when a recipient is needed
// and none was given.
var ErrNoRecipient = errors.New("no recipient for the starter policy")

// ErrTwoSources is returned by [StarterEnvs] for a recipient given beside
// a .sops.yaml creation rule that names the keys of the same bundle.
var ErrTwoSources = errors.New("the .sops.yaml creation rule names the keys")

// StarterEnvs proposes the environments of a new policy at o.Root. Without
// a .sops.yaml it is one environment, prod, at secrets/prod.env, wrapped
// to o.Recipient. With one, the policy starts from it instead of becoming
// a second source of truth that check reports as a mismatch: every
// SOPS file under o.Root that a creation rule matches becomes an
// environment named after the file, with the keys of its rule; when there
// is none yet, prod gets the keys of the rule for secrets/prod.env.
func StarterEnvs(o StarterOptions) ([]policies.StarterEnv, error) {
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	conf, err := author.FindSopsConfig(o.Getenv, o.Root)
	if err != nil {
		return nil, err
	}
	prod := policies.StarterEnv{Name: "prod", Bundle: "secrets/prod.env", Owner: o.Owner}
	if conf == "" {
		if o.Recipient == "" {
			return nil, ErrNoRecipient
		}
		prod.Groups = [][]seal.MasterKey{{recipientKey(o.Recipient)}}
		return []policies.StarterEnv{prod}, nil
	}
	from := conf
	if rel, err := filepath.Rel(o.Root, conf); err == nil && !strings.HasPrefix(rel, "..") {
		from = filepath.ToSlash(rel)
	}
	ruleEnv := func(name, bundle string) (*policies.StarterEnv, error) {
		rule, err := author.CreationRuleFor(conf, filepath.Join(o.Root, filepath.FromSlash(bundle)))
		if err != nil || rule == nil {
			return nil, err
		}
		return &policies.StarterEnv{Name: name, Bundle: bundle, Groups: rule.Groups, Threshold: rule.Threshold, Owner: "from " + from, From: from}, nil
	}
	files, err := sealedFiles(o.Root)
	if err != nil {
		return nil, err
	}
	var envs []policies.StarterEnv
	names := map[string]bool{}
	for _, f := range files {
		name := envName(f, names)
		e, err := ruleEnv(name, f)
		if errors.Is(err, author.ErrNoCreationRule) {
			continue // sops would not write it from this config either
		}
		if err != nil {
			return nil, err
		}
		if e != nil {
			names[name] = true
			envs = append(envs, *e)
		}
	}
	if len(envs) == 0 {
		e, err := ruleEnv("prod", prod.Bundle)
		switch {
		case errors.Is(err, author.ErrNoCreationRule) || err == nil && e == nil:
			// The config names no keys for this path: the person's key.
			if o.Recipient == "" {
				return nil, ErrNoRecipient
			}
			prod.Groups = [][]seal.MasterKey{{recipientKey(o.Recipient)}}
			return []policies.StarterEnv{prod}, nil
		case err != nil:
			return nil, err
		}
		envs = append(envs, *e)
	}
	if o.Recipient != "" {
		for _, e := range envs {
			if !holds(e.Groups, o.Recipient) {
				return nil, fmt.Errorf("%w of %s (%s), which does not list %s", ErrTwoSources, e.Bundle, from, o.Recipient)
			}
		}
	}
	return envs, nil
}

// recipientKey is a person's public key (age or SSH: the policy's "key").
func recipientKey(r string) seal.MasterKey { return seal.MasterKey{Type: seal.KeyAge, ID: r} }

func holds(groups [][]seal.MasterKey, id string) bool {
	for _, g := range groups {
		for _, k := range g {
			if k.ID == id {
				return true
			}
		}
	}
	return false
}

// envName names an environment after its bundle's file: prod for
// secrets/prod.env, dev for config/dev.yaml; a name taken gets a number.
func envName(bundle string, taken map[string]bool) string {
	base := filepath.Base(bundle)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	base = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, strings.Trim(base, "."))
	if base == "" || base == "env" {
		base = "default"
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// sealedFiles lists, relative to root and slash-separated, the SOPS files
// under it (dotenv, YAML, JSON), in order; .git, node_modules and vendor
// are skipped, as are the policy and sops's own config.
func sealedFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable corner proposes nothing
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		switch d.Name() {
		case policies.FileName, ".sops.yaml":
			return nil
		}
		f := seal.FormatForPath(p)
		if f == 0 || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 16<<20 {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if _, err := seal.Inspect(f, data); err != nil {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out, err
}

// IgnorePlaintext adds .env and .env.* (the plaintext files tools read) to
// root's .gitignore, unless it has them, and keeps every bundle path (slash-
// separated, relative to root) that these patterns would catch committable
// with a "!/PATH" line. It returns the lines it added.
func IgnorePlaintext(root string, bundles []string) ([]string, error) {
	path := filepath.Join(root, ".gitignore")
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var add []string
	for _, p := range []string{".env", ".env.*"} {
		if !have[p] && !have["/"+p] {
			add = append(add, p)
		}
	}
	for _, b := range bundles {
		base := filepath.Base(b)
		if (base == ".env" || strings.HasPrefix(base, ".env.")) && !have["!/"+b] && !have["!"+b] {
			add = append(add, "!/"+b)
		}
	}
	if len(add) == 0 {
		return nil, nil
	}
	out := append([]byte{}, data...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, "# plaintext .env files stay out of git; sealed bundles are committed (sealenv init)\n"...)
	for _, l := range add {
		out = append(out, l+"\n"...)
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := fsutil.WriteFileAtomic(path, out, mode); err != nil {
		return nil, err
	}
	return add, nil
}
