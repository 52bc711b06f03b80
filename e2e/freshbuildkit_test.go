package e2e

// A second buildkitd with an empty cache, for the tests that must prove a
// cache import was used (the shared one has every step cached already).
// Each is started for one test and stopped when it ends (or with the
// harness).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	freshMu sync.Mutex
	fresh   []freshBK
)

type freshBK struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// FreshBuildkitd starts a buildkitd with an empty cache and returns its
// address; it is stopped when t ends. Slow: a few seconds to start.
func (e *Env) FreshBuildkitd(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(e.Dir, "bk-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "unix://" + filepath.Join(dir, "s.sock")
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.Buildkitd, "--config", cfg, "--root", filepath.Join(dir, "root"), "--addr", addr,
		"--otel-socket-path", filepath.Join(dir, "otel.sock"),
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-binary", e.Runc, "--oci-worker-net", "host")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start a second buildkitd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	freshMu.Lock()
	fresh = append(fresh, freshBK{cmd, done})
	freshMu.Unlock()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		unmountBelow(dir)
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(startTimeout)
	for {
		out, err := exec.Command(e.Buildctl, "--addr", addr, "debug", "workers").CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("linux/")) {
			return addr
		}
		select {
		case <-done:
			t.Fatalf("the second buildkitd exited at start: %s", lastLine(filepath.Join(dir, "log")))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second buildkitd did not answer within %v", startTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopPrivateBuildkitds kills what FreshBuildkitd started and a test did
// not stop (the harness is shutting down).
func stopPrivateBuildkitds() {
	freshMu.Lock()
	defer freshMu.Unlock()
	for _, f := range fresh {
		select {
		case <-f.done:
		default:
			_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}
