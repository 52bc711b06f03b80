package fsutil

import (
	"io/fs"
	"strings"
	"testing"
)

// The pure parts of the private directories of every system, tested on
// every system: the Windows and macOS rules run in Linux CI too.

func TestEditDirPID(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]int{
		"sealenv-edit-123-abc": 123, "sealenv-edit-7-1234567.noindex": 7, "sealenv-edit-42-0a1b2c3d4e5f": 42,
		"sealenv-edit-0-x": 0, "sealenv-edit--1-x": 0, "sealenv-edit-12": 0, "sealenv-edit-12-": 0,
		"sealenv-edit-012-x": 0, "sealenv-edit-+12-x": 0, "other-123-x": 0, "sealenv-edit-abc-x": 0,
	} {
		pid, ok := editDirPID(name)
		if pid != want || ok != (want > 0) {
			t.Errorf("editDirPID(%q) = %d, %v; want %d", name, pid, ok, want)
		}
	}
}

func TestCheckPrivateBase(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode   fs.FileMode
		owner  uint32
		reason string
	}{
		{fs.ModeDir | 0o700, 501, ""},
		{fs.ModeDir | 0o500, 501, ""},
		{fs.ModeDir | 0o755, 501, "open to other users (mode 0755)"},
		{fs.ModeDir | 0o1777, 0, "belongs to user 0"},
		{fs.ModeDir | 0o710, 501, "open to other users"},
		{0o600, 501, "not a directory"},
		{fs.ModeSymlink | 0o700, 501, "not a directory"},
	} {
		err := checkPrivateBase("/var/folders/xy/T", c.mode, c.owner, 501)
		if c.reason == "" && err != nil || c.reason != "" && (err == nil || !strings.Contains(err.Error(), c.reason)) {
			t.Errorf("mode %v owner %d: %v; want %q", c.mode, c.owner, err, c.reason)
		}
	}
}

func TestSyncedRoots(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OneDrive": "/c/Users/me/OneDrive", "APPDATA": "/c/Users/me/AppData/Roaming"}
	getenv := func(k string) string { return env[k] }
	win := syncedRoots("windows", "", getenv)
	mac := syncedRoots("darwin", "/Users/me", getenv)
	for _, c := range []struct {
		path  string
		roots []string
		fold  bool
		want  string
	}{
		{"/c/Users/me/AppData/Local/Temp", win, true, ""},
		{"/c/Users/me/onedrive/Temp", win, true, "/c/Users/me/OneDrive"},
		{"/C/USERS/ME/APPDATA/ROAMING/x", win, true, "/c/Users/me/AppData/Roaming"},
		{"/c/Users/me/OneDriveX/Temp", win, true, ""},
		{"/private/var/folders/xy/abc/T", mac, true, ""},
		{"/Users/me/Library/Mobile Documents/com~apple~CloudDocs/tmp", mac, true, "/Users/me/Library/Mobile Documents"},
		{"/Users/me/Library/CloudStorage/Dropbox/t", mac, true, "/Users/me/Library/CloudStorage"},
		{"/Users/me/Documents/tmp", mac, true, "/Users/me/Documents"},
		{"/Users/me/Library/Caches", mac, true, ""},
	} {
		got, ok := syncedRoot(c.path, c.roots, c.fold)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("syncedRoot(%q) = %q, %v; want %q", c.path, got, ok, c.want)
		}
	}
	if r := syncedRoots("linux", "/home/me", getenv); len(r) != 0 {
		t.Errorf("linux synced roots: %v", r)
	}
}

func TestUserOnlySDDL(t *testing.T) {
	t.Parallel()
	const sid = "S-1-5-21-1004336348-1177238915-682003330-512"
	got := userOnlySDDL(sid)
	// Owner the user, protected DACL, one allow ACE with full access,
	// inherited by files (OI) and directories (CI): nothing else.
	want := "O:" + sid + "D:P(A;OICI;FA;;;" + sid + ")"
	if got != want {
		t.Fatalf("userOnlySDDL = %q, want %q", got, want)
	}
	if strings.Count(got, "(") != 1 || strings.Contains(got, "WD") || strings.Contains(got, "BA") || strings.Contains(got, "SY") {
		t.Fatalf("descriptor grants more than the user: %q", got)
	}
}
