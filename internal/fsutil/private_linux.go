//go:build linux

package fsutil

import (
	"os"
	"path/filepath"
	"strconv"

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
	// f_type is int32 on 32-bit ARM, where ramfs's magic is negative.
	t := uint32(st.Type)
	return t == tmpfsMagic || t == ramfsMagic
}

func newPrivateDir() (*PrivateDir, error) {
	explicit := os.Getenv(EnvPrivateDir) != ""
	for _, c := range privateBases() {
		if !IsMemoryBacked(c) {
			continue
		}
		dir, err := os.MkdirTemp(c, editPrefix+strconv.Itoa(os.Getpid())+"-*")
		if err != nil {
			continue
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			os.RemoveAll(dir)
			continue
		}
		return &PrivateDir{Path: filepath.Clean(dir), Memory: true, Explicit: explicit}, nil
	}
	return nil, ErrNoMemoryDir
}

func privateBases() []string {
	if d := os.Getenv(EnvPrivateDir); d != "" {
		return []string{d} // an explicit choice is the only one
	}
	candidates := []string{"/dev/shm"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	return candidates
}

func removePrivate(dir string) error { return os.RemoveAll(dir) }
