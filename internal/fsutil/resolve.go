package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside is returned by [Resolve] for a path whose real location is
// outside the root.
var ErrOutside = errors.New("outside the repository")

// Resolve returns the real path of path (every symlink followed; for a file
// that does not exist yet, the real path of its directory joined with its
// name) and checks that it lies inside root (itself resolved). An empty root
// checks nothing. A symlink that points nowhere is an error: writing there
// would replace the link.
func Resolve(path, root string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		if st, lerr := os.Lstat(abs); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symlink to a file that does not exist", path)
		}
		dir, derr := filepath.EvalSymlinks(filepath.Dir(abs))
		if derr != nil {
			return "", fmt.Errorf("%s: %w", path, Reason(derr))
		}
		real, err = filepath.Join(dir, filepath.Base(abs)), nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, Reason(err))
	}
	if root == "" {
		return real, nil
	}
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("%s: %w", root, Reason(err))
	}
	if !Within(real, rootReal) {
		return "", fmt.Errorf("%s resolves to %s, %w %s; refusing to follow a symlink out of it", path, real, ErrOutside, rootReal)
	}
	return real, nil
}

// Within reports whether path is dir or inside it (both clean and
// absolute).
func Within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// MkdirAllWithin creates dir and its missing parents with perm, as
// [os.MkdirAll] does, after checking that the deepest directory that
// exists already lies, symlinks followed, inside root: a symlink must not
// take the new directories out of the repository. An empty root checks
// nothing. It returns the directories it created, outermost first.
func MkdirAllWithin(dir, root string, perm fs.FileMode) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var missing []string
	existing := abs
	for {
		st, err := os.Stat(existing)
		if err == nil {
			if !st.IsDir() {
				return nil, fmt.Errorf("%s is not a directory", existing)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", existing, Reason(err))
		}
		missing = append([]string{existing}, missing...)
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if root != "" {
		if _, err := Resolve(existing, root); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(abs, perm); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, Reason(err))
	}
	return missing, nil
}
