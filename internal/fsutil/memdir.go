package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

// ErrNoMemoryDir means no memory-backed directory is available.
var ErrNoMemoryDir = errors.New("no memory-backed directory (tmpfs) found: tried /dev/shm and $XDG_RUNTIME_DIR, or only $SEALENV_SHM_DIR when set")

// MemoryDir creates a private (0700) directory on a memory-backed file
// system and returns it with a function that removes it and everything in
// it. Candidates: /dev/shm, then $XDG_RUNTIME_DIR; $SEALENV_SHM_DIR, when
// set, is the only candidate.
//
// The directory's name carries the process ID ("sealenv-edit-PID-*"), so
// that [RemoveStaleMemoryDirs] can find the ones a killed process left.
func MemoryDir() (string, func(), error) {
	for _, c := range memoryCandidates() {
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
		return dir, func() { os.RemoveAll(filepath.Clean(dir)) }, nil
	}
	return "", nil, ErrNoMemoryDir
}

const editPrefix = "sealenv-edit-"

func memoryCandidates() []string {
	if d := os.Getenv("SEALENV_SHM_DIR"); d != "" {
		return []string{d} // an explicit choice is the only one
	}
	candidates := []string{"/dev/shm"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	return candidates
}

// RemoveStaleMemoryDirs removes the private directories of [MemoryDir]
// (plaintext copies of an edit) that belong to this user and to a process
// that no longer exists: an edit killed by SIGKILL cannot clean up after
// itself. It returns the directories it removed. A directory whose process
// is alive, or that another user owns, is left alone.
func RemoveStaleMemoryDirs() ([]string, error) {
	var removed []string
	for _, c := range memoryCandidates() {
		entries, err := os.ReadDir(c)
		if err != nil {
			continue
		}
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), editPrefix)
			if !ok || !e.IsDir() {
				continue
			}
			pidText, _, ok := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if !ok || err != nil || pid <= 0 {
				continue
			}
			dir := filepath.Join(c, e.Name())
			var st unix.Stat_t
			if err := unix.Lstat(dir, &st); err != nil || st.Uid != uint32(os.Getuid()) || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
			if err := unix.Kill(pid, 0); err == nil || errors.Is(err, unix.EPERM) {
				continue // alive (or a process of another user with that ID)
			}
			if err := os.RemoveAll(dir); err != nil {
				return removed, err
			}
			removed = append(removed, dir)
		}
	}
	return removed, nil
}
