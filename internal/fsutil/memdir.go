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
var ErrNoMemoryDir = errors.New("no memory-backed directory (tmpfs) found: tried $SEALENV_SHM_DIR, /dev/shm, $XDG_RUNTIME_DIR")

// MemoryDir creates a private (0700) directory on a memory-backed file
// system and returns it with a function that removes it and everything in
// it. Candidates: $SEALENV_SHM_DIR, /dev/shm, $XDG_RUNTIME_DIR.
func MemoryDir() (string, func(), error) {
	var candidates []string
	if d := os.Getenv("SEALENV_SHM_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	candidates = append(candidates, "/dev/shm")
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, d)
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
