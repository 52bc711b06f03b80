package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A PrivateDir is a directory for plaintext copies (the file sealenv edit
// hands to an editor): readable by the current user only, on the most
// private storage the system has, and removed with everything in it by
// [PrivateDir.Remove]. What "most private" means differs:
//
//   - Linux: a 0700 directory on tmpfs or ramfs ($SEALENV_SHM_DIR, else
//     /dev/shm, else $XDG_RUNTIME_DIR), so the copy never reaches a disk
//     (swap aside). With no memory-backed place, [NewPrivateDir] fails.
//   - macOS: a 0700 directory in the per-user temporary directory
//     (getconf DARWIN_USER_TEMP_DIR, /var/folders/.../T), which only the
//     user can enter, which Time Machine and iCloud do not copy, and whose
//     name ends in .noindex so that Spotlight does not index it. It is on
//     disk: [PrivateDir.Memory] is false.
//   - Windows: a directory in the user's temporary directory whose ACL
//     grants the current user, and nobody else, access (protected: nothing
//     inherited), marked not to be indexed; on disk too.
//
// $SEALENV_SHM_DIR, when set, is the only candidate on every system.
type PrivateDir struct {
	Path string
	// Memory reports that Path is on a memory-backed file system.
	Memory bool
	// Explicit reports that $SEALENV_SHM_DIR chose the place.
	Explicit bool
}

// ErrNoMemoryDir means no memory-backed directory is available (Linux).
var ErrNoMemoryDir = errors.New("no memory-backed directory (tmpfs) found: tried /dev/shm and $XDG_RUNTIME_DIR, or only $SEALENV_SHM_DIR when set")

// EnvPrivateDir names the variable that chooses where [NewPrivateDir]
// creates its directories.
const EnvPrivateDir = "SEALENV_SHM_DIR"

// editPrefix starts the name of every [PrivateDir]: "sealenv-edit-PID-*",
// so that [RemoveStaleMemoryDirs] can find the ones a killed process left.
const editPrefix = "sealenv-edit-"

// NewPrivateDir creates a [PrivateDir] (see there for where).
func NewPrivateDir() (*PrivateDir, error) { return newPrivateDir() }

// Remove removes the directory and everything in it.
func (d *PrivateDir) Remove() error { return removePrivate(filepath.Clean(d.Path)) }

// RemoveStaleMemoryDirs removes the private directories of [NewPrivateDir]
// (plaintext copies of an edit) that belong to this user and to a process
// that no longer exists: an edit killed by SIGKILL (or ended from the
// Windows task manager) cannot clean up after itself. It returns the
// directories it removed. A directory whose process is alive, or that
// another user owns, is left alone.
func RemoveStaleMemoryDirs() ([]string, error) {
	var removed []string
	for _, c := range privateBases() {
		entries, err := os.ReadDir(c)
		if err != nil {
			continue
		}
		for _, e := range entries {
			pid, ok := editDirPID(e.Name())
			if !ok || !e.IsDir() {
				continue
			}
			dir := filepath.Join(c, e.Name())
			if !ownDir(dir) || processAlive(pid) {
				continue
			}
			if err := removePrivate(dir); err != nil {
				return removed, err
			}
			removed = append(removed, dir)
		}
	}
	return removed, nil
}

// editDirPID reads the process ID from the name of a [PrivateDir]
// ("sealenv-edit-PID-RANDOM", with ".noindex" on macOS).
func editDirPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, editPrefix)
	if !ok {
		return 0, false
	}
	pidText, random, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 || random == "" || pidText != strconv.Itoa(pid) {
		return 0, false
	}
	return pid, true
}

// checkPrivateBase says why a directory with this mode and owner is no
// place for a private directory of user uid: it must be a directory that
// the user owns and nobody else can enter or list.
func checkPrivateBase(path string, mode fs.FileMode, owner, uid uint32) error {
	switch {
	case !mode.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	case owner != uid:
		return fmt.Errorf("%s belongs to user %d, not to you (%d)", path, owner, uid)
	case mode.Perm()&0o077 != 0:
		return fmt.Errorf("%s is open to other users (mode %#o)", path, mode.Perm())
	}
	return nil
}

// syncedRoots lists the directories that a sync or backup service copies
// off the machine, under which no plaintext copy may go: iCloud Drive and
// the File Provider folders (Dropbox, OneDrive, Google Drive) on macOS;
// OneDrive and the roaming profile on Windows.
func syncedRoots(goos, home string, getenv func(string) string) []string {
	var roots []string
	add := func(p string) {
		if p != "" {
			roots = append(roots, filepath.Clean(p))
		}
	}
	switch goos {
	case "darwin":
		if home != "" {
			add(filepath.Join(home, "Library", "Mobile Documents"))
			add(filepath.Join(home, "Library", "CloudStorage"))
			add(filepath.Join(home, "Desktop"))   // synced with iCloud "Desktop & Documents"
			add(filepath.Join(home, "Documents")) // idem
		}
	case "windows":
		for _, v := range []string{"OneDrive", "OneDriveConsumer", "OneDriveCommercial", "APPDATA"} {
			add(getenv(v))
		}
	}
	return roots
}

// syncedRoot returns the root of roots that path is in, if any. Windows
// paths compare without case.
func syncedRoot(path string, roots []string, foldCase bool) (string, bool) {
	for _, r := range roots {
		p, root := path, r
		if foldCase {
			p, root = strings.ToLower(p), strings.ToLower(root)
		}
		if Within(p, root) {
			return r, true
		}
	}
	return "", false
}

// userOnlySDDL is the security descriptor of a Windows [PrivateDir]:
// owned by the user with SID sid, and a protected DACL (P: nothing
// inherited from above) with one entry, full access (FA) for that user,
// inherited by every file and directory created inside (OICI).
func userOnlySDDL(sid string) string {
	return "O:" + sid + "D:P(A;OICI;FA;;;" + sid + ")"
}
