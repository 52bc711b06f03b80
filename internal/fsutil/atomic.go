// Package fsutil holds the file-system primitives every command shares:
// atomic writes and memory-backed scratch space.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data: it writes a temporary file in the
// same directory, syncs it, gives it the mode of the file it replaces (or
// mode for a new file), renames it over path and syncs the directory. On any
// error the original file is untouched and the temporary file is removed.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		mode = st.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// CreateExclusive writes data to a new file with mode, failing if path
// exists. A partial file is removed on error.
func CreateExclusive(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// WriteFilesAtomic replaces several files as one change: every new content
// is written and synced to a temporary file next to its target first; only
// then are they renamed over their targets, in order. If a rename fails,
// the targets already replaced get their original content back, so on any
// error every file is as it was. Files must exist.
func WriteFilesAtomic(paths []string, data [][]byte) error {
	return writeFilesWithHook(paths, data, nil)
}

// writeFilesWithHook runs beforeCommit between staging and renaming (tests
// use it to make a rename fail for real).
func writeFilesWithHook(paths []string, data [][]byte, beforeCommit func()) (err error) {
	if len(paths) != len(data) {
		return errors.New("WriteFilesAtomic: paths and data differ in length")
	}
	type staged struct {
		path, tmp string
		orig      []byte
		mode      fs.FileMode
	}
	var st []staged
	defer func() {
		if err != nil {
			for _, s := range st {
				if s.tmp != "" {
					os.Remove(s.tmp)
				}
			}
		}
	}()
	for i, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		orig, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tmp, err := writeTemp(p, data[i], info.Mode().Perm())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		st = append(st, staged{path: p, tmp: tmp, orig: orig, mode: info.Mode().Perm()})
	}
	if beforeCommit != nil {
		beforeCommit()
	}
	for i := range st {
		if rerr := os.Rename(st[i].tmp, st[i].path); rerr != nil {
			// roll back what was replaced
			for j := 0; j < i; j++ {
				if werr := WriteFileAtomic(st[j].path, st[j].orig, st[j].mode); werr != nil {
					return fmt.Errorf("%s: %v; and restoring %s failed: %v", st[i].path, rerr, st[j].path, werr)
				}
			}
			return fmt.Errorf("%s: %w (all files restored)", st[i].path, rerr)
		}
		st[i].tmp = ""
		syncDir(filepath.Dir(st[i].path))
	}
	return nil
}

func writeTemp(path string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	if err := f.Chmod(mode); err == nil {
		if _, err = f.Write(data); err == nil {
			if err = f.Sync(); err == nil {
				if err = f.Close(); err == nil {
					return tmp, nil
				}
			}
		}
	}
	f.Close()
	os.Remove(tmp)
	return "", err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
