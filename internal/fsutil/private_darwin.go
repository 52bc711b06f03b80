//go:build darwin

package fsutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// IsMemoryBacked reports false: macOS has no tmpfs, and a RAM disk cannot
// be told from a disk by its file system.
func IsMemoryBacked(dir string) bool { return false }

func newPrivateDir() (*PrivateDir, error) {
	explicit := os.Getenv(EnvPrivateDir) != ""
	var reasons []string
	for _, base := range privateBases() {
		real, err := filepath.EvalSymlinks(base)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", base, Reason(err)))
			continue
		}
		if !explicit {
			if err := privateBase(real); err != nil {
				reasons = append(reasons, err.Error())
				continue
			}
		}
		home, _ := os.UserHomeDir()
		if root, ok := syncedRoot(real, syncedRoots(runtime.GOOS, home, os.Getenv), true); ok {
			reasons = append(reasons, fmt.Sprintf("%s is inside %s, which is synced off this Mac", real, root))
			continue
		}
		dir, err := os.MkdirTemp(real, editPrefix+strconv.Itoa(os.Getpid())+"-*.noindex")
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", real, Reason(err)))
			continue
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			os.RemoveAll(dir)
			reasons = append(reasons, fmt.Sprintf("%s: %v", dir, Reason(err)))
			continue
		}
		return &PrivateDir{Path: filepath.Clean(dir), Explicit: explicit}, nil
	}
	return nil, fmt.Errorf("no private per-user directory: %s", strings.Join(reasons, "; "))
}

// privateBase checks that dir belongs to the user and is closed to others.
func privateBase(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner", dir)
	}
	return checkPrivateBase(dir, st.Mode(), sys.Uid, uint32(os.Getuid()))
}

// privateBases is $SEALENV_SHM_DIR alone when set, else the per-user
// temporary directory that the system assigns (getconf asks it, whatever
// $TMPDIR says), else $TMPDIR.
func privateBases() []string {
	if d := os.Getenv(EnvPrivateDir); d != "" {
		return []string{d}
	}
	var out []string
	if b, err := exec.Command("/usr/bin/getconf", "DARWIN_USER_TEMP_DIR").Output(); err == nil {
		if d := strings.TrimSpace(string(b)); d != "" {
			out = append(out, d)
		}
	}
	if d := os.Getenv("TMPDIR"); d != "" {
		out = append(out, d)
	}
	if len(out) == 0 {
		out = append(out, os.TempDir())
	}
	return out
}

func removePrivate(dir string) error { return os.RemoveAll(dir) }
