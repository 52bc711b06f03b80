package bundlefile

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
)

// Root is the repository a path lies in: the directory of the sealenv.yaml
// above it, else the git top level (a directory with .git), else "" (no
// repository: nothing to stay inside).
func Root(path string) string {
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

// Resolve returns the real path of the bundle at path, every symlink
// followed, refusing one that takes it out of its repository ([Root]).
func Resolve(path string) (string, error) {
	return fsutil.Resolve(path, Root(path))
}

// EnvOf finds the environment of a policy whose bundle is path (which need
// not exist yet): the policy is the file policy names, else the
// sealenv.yaml found from path's directory. It returns nil, without an
// error, when there is no policy or none of its environments names path.
// A policy that exists but does not load is an error: what it says about
// the bundle (its allow_names, its signers) cannot be skipped unseen.
func EnvOf(policy, path string) (*policies.Environment, *policies.Policy, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	if policy == "" {
		if policy, err = policies.Find(filepath.Dir(abs)); errors.Is(err, policies.ErrNotFound) {
			return nil, nil, nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	p, err := policies.Load(policy)
	if err != nil {
		return nil, nil, err
	}
	for i := range p.Environments {
		env := &p.Environments[i]
		b, err := filepath.Abs(p.BundlePath(env))
		if err != nil {
			continue
		}
		if b == abs || sameFile(b, abs) {
			return env, p, nil
		}
		if r, err := p.ResolveBundle(env); err == nil && (r == abs || sameFile(r, abs)) {
			return env, p, nil
		}
	}
	return nil, p, nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
