package fsutil

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Magic numbers of memory-backed file systems (statfs f_type).
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// IsMemoryBacked reports whether dir lives on tmpfs or ramfs, so that files
// in it never reach a disk (swap aside).
func IsMemoryBacked(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == tmpfsMagic || st.Type == ramfsMagic
}

// ErrNoMemoryDir means no memory-backed directory is available.
var ErrNoMemoryDir = errors.New("no memory-backed directory (tmpfs) found: tried /dev/shm and $XDG_RUNTIME_DIR, or only $SEALENV_SHM_DIR when set")

// MemoryDir creates a private (0700) directory on a memory-backed file
// system and returns it with a function that removes it and everything in
// it. Candidates: /dev/shm, then $XDG_RUNTIME_DIR; $SEALENV_SHM_DIR, when
// set, is the only candidate.
func MemoryDir() (string, func(), error) {
	candidates := []string{"/dev/shm"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	if d := os.Getenv("SEALENV_SHM_DIR"); d != "" {
		candidates = []string{d} // an explicit choice is the only one
	}
	for _, c := range candidates {
		if !IsMemoryBacked(c) {
			continue
		}
		dir, err := os.MkdirTemp(c, "sealenv-edit-*")
		if err != nil {
			continue
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			os.RemoveAll(dir)
			continue
		}
		return dir, func() { os.RemoveAll(filepath.Clean(dir)) }, nil
	}
	return "", nil, ErrNoMemoryDir
}
