//go:build windows

package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// IsMemoryBacked reports false: Windows has no tmpfs.
func IsMemoryBacked(dir string) bool { return false }

func newPrivateDir() (*PrivateDir, error) {
	sid, err := currentSID()
	if err != nil {
		return nil, fmt.Errorf("reading your user's SID: %w", err)
	}
	explicit := os.Getenv(EnvPrivateDir) != ""
	var reasons []string
	for _, base := range privateBases() {
		real, err := filepath.EvalSymlinks(base)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", base, Reason(err)))
			continue
		}
		if root, ok := syncedRoot(real, syncedRoots(runtime.GOOS, "", os.Getenv), true); ok {
			reasons = append(reasons, fmt.Sprintf("%s is inside %s, which is synced off this machine", real, root))
			continue
		}
		dir, err := mkdirUserOnly(real, sid)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		return &PrivateDir{Path: dir, Explicit: explicit}, nil
	}
	return nil, fmt.Errorf("no private per-user directory: %s", strings.Join(reasons, "; "))
}

// mkdirUserOnly creates a new directory in base that only sid can access,
// and checks that the file system kept its ACL (FAT and network shares
// may drop it).
func mkdirUserOnly(base string, sid *windows.SID) (string, error) {
	sd, err := windows.SecurityDescriptorFromString(userOnlySDDL(sid.String()))
	if err != nil {
		return "", fmt.Errorf("building the directory's ACL: %w", err)
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	for range 100 {
		random := make([]byte, 6)
		if _, err := rand.Read(random); err != nil {
			return "", err
		}
		dir := filepath.Join(base, editPrefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(random))
		p, err := windows.UTF16PtrFromString(dir)
		if err != nil {
			return "", err
		}
		err = windows.CreateDirectory(p, sa)
		if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", dir, err)
		}
		if err := checkUserOnly(dir, sid); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
		_ = windows.SetFileAttributes(p, windows.FILE_ATTRIBUTE_DIRECTORY|windows.FILE_ATTRIBUTE_NOT_CONTENT_INDEXED)
		return dir, nil
	}
	return "", fmt.Errorf("%s: no free directory name", base)
}

// checkUserOnly reads dir's security descriptor back: owner sid, a
// protected DACL with exactly one entry, which allows sid.
func checkUserOnly(dir string, sid *windows.SID) error {
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s: reading its ACL: %w", dir, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil || !owner.Equals(sid) {
		return fmt.Errorf("%s: the file system did not keep the owner (a FAT or network drive?)", dir)
	}
	control, _, err := sd.Control()
	if err != nil || control&windows.SE_DACL_PROTECTED == 0 {
		return fmt.Errorf("%s: the file system did not keep a protected ACL (a FAT or network drive?)", dir)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil || dacl.AceCount != 1 {
		return fmt.Errorf("%s: the file system did not keep the ACL (a FAT or network drive?)", dir)
	}
	var ace *windows.ACCESS_ALLOWED_ACE
	if err := windows.GetAce(dacl, 0, &ace); err != nil {
		return fmt.Errorf("%s: reading its ACL: %w", dir, err)
	}
	if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || !(*windows.SID)(unsafe.Pointer(&ace.SidStart)).Equals(sid) {
		return fmt.Errorf("%s: its ACL allows someone else", dir)
	}
	return nil
}

func currentSID() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return u.User.Sid.Copy()
}

// privateBases is $SEALENV_SHM_DIR alone when set, else the user's
// temporary directory (%TMP%, normally %LOCALAPPDATA%\Temp, which neither
// a roaming profile nor OneDrive copies).
func privateBases() []string {
	if d := os.Getenv(EnvPrivateDir); d != "" {
		return []string{d}
	}
	return []string{os.TempDir()}
}

// ownDir reports whether dir is a directory (not a link or junction) whose
// owner is the current user.
func ownDir(dir string) bool {
	st, err := os.Lstat(dir)
	if err != nil || !st.IsDir() || st.Mode()&os.ModeSymlink != 0 || st.Mode()&os.ModeIrregular != 0 {
		return false
	}
	sid, err := currentSID()
	if err != nil {
		return false
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return false
	}
	owner, _, err := sd.Owner()
	return err == nil && owner != nil && owner.Equals(sid)
}

// stillActive is the exit code GetExitCodeProcess reports for a process
// that has not exited (STILL_ACTIVE).
const stillActive = 259

// processAlive reports whether a process with this ID exists (or cannot
// be asked: then it is not ours to judge).
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		// ERROR_INVALID_PARAMETER: no such process. Anything else
		// (access denied) means it exists.
		return !errors.Is(err, windows.ERROR_INVALID_PARAMETER)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == stillActive
}

// removePrivate removes dir, retrying for up to 2 s while another process
// (an editor that has just exited, a virus scanner) still has a file in it
// open.
func removePrivate(dir string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
