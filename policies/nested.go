package policies

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sealenv/sealenv/internal/fsutil"
)

// NestedPolicy names a second sealenv.yaml below the root policy's
// directory, which the root policy accepts: a sub-project's own policy.
// Whoever runs sealenv from inside that directory uses it (see [Find]), so
// an unnamed one could wrap a bundle to another key unnoticed: check
// reports every sealenv.yaml the root policy does not name, and a named
// one that claims a bundle of the root policy.
type NestedPolicy struct {
	Path   string `yaml:"path"`   // relative to the root policy's directory, ending in sealenv.yaml
	Reason string `yaml:"reason"` // why it exists: the reviewer's record
}

// Rule IDs of nested policies.
const (
	// RuleNestedPolicy is a sealenv.yaml below the root that the root
	// policy does not name, one that is named but missing or invalid, or
	// one that claims a bundle of the root policy.
	RuleNestedPolicy = "nested-policy"
)

// validateNested checks nested_policies.
func (p *Policy) validateNested(at func(...any) string) error {
	seen := map[string]bool{}
	for i, n := range p.NestedPolicies {
		where := at("nested_policies", i)
		clean := filepath.Clean(filepath.FromSlash(n.Path))
		switch {
		case n.Path == "":
			return fmt.Errorf("%s: nested policy needs a path", where)
		case filepath.IsAbs(n.Path) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)):
			return fmt.Errorf("%s: nested policy %s is outside the repository", where, n.Path)
		case filepath.Base(clean) != FileName || clean == FileName:
			return fmt.Errorf("%s: nested policy %s: want the path of a %s in a directory below this one", where, n.Path, FileName)
		case strings.TrimSpace(n.Reason) == "":
			return fmt.Errorf("%s: nested policy %s needs a reason", where, n.Path)
		case seen[clean]:
			return fmt.Errorf("%s: nested policy %s is listed twice", where, n.Path)
		}
		seen[clean] = true
	}
	return nil
}

// names reports whether p names the nested policy at rel (relative to
// Root).
func (p *Policy) names(rel string) bool {
	for _, n := range p.NestedPolicies {
		if filepath.Clean(filepath.FromSlash(n.Path)) == rel {
			return true
		}
	}
	return false
}

// CheckNested finds every other sealenv.yaml under the policy's directory
// (.git directories excepted; symbolic links to directories are not
// followed, and a link named sealenv.yaml counts too) and reports, as errors, each one the
// policy does not name in nested_policies, each named one that is missing
// or does not parse, and each named one that has an environment whose
// bundle is a bundle of this policy. A directory that cannot be read is an
// error, never skipped.
func (p *Policy) CheckNested() []Violation {
	var out []Violation
	v := func(rel, format string, args ...any) {
		out = append(out, Violation{Bundle: filepath.ToSlash(rel), Rule: RuleNestedPolicy, Severity: SeverityError, Message: fmt.Sprintf(format, args...)})
	}
	found := map[string]bool{}
	err := filepath.WalkDir(p.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			rel, _ := filepath.Rel(p.Root, path)
			v(rel, "cannot be searched for other %s files: %v", FileName, fsutil.Reason(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if d.Name() != FileName || d.IsDir() || path == p.Path {
			return nil
		}
		rel, _ := filepath.Rel(p.Root, path)
		found[rel] = true
		return nil
	})
	if err != nil {
		v(".", "cannot be searched for other %s files: %v", FileName, err)
	}
	rels := make([]string, 0, len(found))
	for rel := range found {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	root := filepath.ToSlash(filepath.Base(p.Path))
	for _, rel := range rels {
		if !p.names(rel) {
			v(rel, "a second policy that %s does not name: sealenv run from %s uses it instead, with its own recipients; review it (who added it: git log --format='%%h %%an' -- %s), then delete it, or name it under nested_policies in %s with a reason", root, filepath.ToSlash(filepath.Dir(rel)), filepath.ToSlash(rel), root)
		}
	}
	own := map[string]string{}
	for _, e := range p.Environments {
		own[filepath.Clean(filepath.Join(p.Root, filepath.FromSlash(e.Bundle)))] = e.Name
	}
	for _, n := range p.NestedPolicies {
		rel := filepath.Clean(filepath.FromSlash(n.Path))
		if !found[rel] {
			if _, err := os.Lstat(filepath.Join(p.Root, rel)); err == nil {
				v(rel, "named in nested_policies but not a regular file; remove it from nested_policies or make it one")
			} else {
				v(rel, "named in nested_policies but missing; remove it from nested_policies in %s", root)
			}
			continue
		}
		np, err := Load(filepath.Join(p.Root, rel))
		if err != nil {
			v(rel, "named in nested_policies but invalid: %v", err)
			continue
		}
		for _, e := range np.Environments {
			abs := filepath.Clean(filepath.Join(np.Root, filepath.FromSlash(e.Bundle)))
			if name, ok := own[abs]; ok {
				r, _ := filepath.Rel(p.Root, abs)
				v(rel, "environment %q claims %s, the bundle of environment %q of %s: a bundle has one policy; remove the environment from %s", e.Name, filepath.ToSlash(r), name, root, filepath.ToSlash(rel))
			}
		}
	}
	return out
}
