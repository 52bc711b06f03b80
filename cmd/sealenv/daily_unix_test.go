//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIdentityPermissionError: an identity file the injector's user may
// not read is one line that says which uid and groups the injector runs as,
// the file's owner and mode, and what would work.
func TestIdentityPermissionError(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.ok("A="+secret(t, "a")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	// A directory another uid may enter (t.TempDir's parent is private).
	dir, err := os.MkdirTemp("", "sealenv-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	inj := filepath.Join(dir, "sealenv-inject")
	data, err := os.ReadFile(injectorBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(inj, data, 0o755)
	os.Chmod(inj, 0o755)
	for _, f := range []string{"key.txt", "b.env"} {
		b, _ := os.ReadFile(c.path(f))
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	key := filepath.Join(dir, "key.txt")
	os.Chmod(key, 0o600)
	cmd := exec.Command(inj, "--identity", key, "--bundle", filepath.Join(dir, "b.env"), "--", "true")
	uid := os.Getuid()
	if uid == 0 {
		// As the image's USER would: not root, not the file's owner.
		uid = 65532
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	} else {
		os.Chmod(key, 0o000)
	}
	res := c.result(cmd)
	want := fmt.Sprintf("the injector runs as uid %d", uid)
	if res.code != 125 || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, want) ||
		!strings.Contains(res.stderr, "mode 0") || !strings.Contains(res.stderr, "make it readable by uid") {
		t.Errorf("exit %d, stderr %q: want 125 and one line that says %q, the file's mode and what works", res.code, res.stderr, want)
	}
}
