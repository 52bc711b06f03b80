package e2e

// Containers: podman run, wait, logs, exec, diff and stop on the harness's
// private store. See harness_test.go.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ---- containers -------------------------------------------------------------

// Run is one podman container. Every container gets the flags this kernel
// needs: --network=none and explicit nofile/nproc limits.
type Run struct {
	Image      string
	Cmd        []string // replaces the image's CMD; nil keeps it
	Entrypoint []string // replaces the image's ENTRYPOINT; nil keeps it
	// Env is passed as -e NAME with the value in podman's environment, so
	// no value shows in a process listing (names podman reads itself, like
	// PATH or HOME, go as -e NAME=value instead).
	Env map[string]string
	// Secrets are files mounted read-only at /run/secrets/NAME, the way
	// Docker, Compose and Kubernetes hand an identity to a container.
	Secrets map[string][]byte
	// Files are more read-only files: absolute container path -> content.
	Files map[string][]byte
	Flags []string // more podman run flags, before the image
}

// Result is what a finished container did.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Container is a started, detached container; t.Cleanup removes it.
type Container struct {
	e    *Env
	Name string
}

// Stopped is the outcome of Container.Stop.
type Stopped struct {
	Result
	// Elapsed is how long podman stop took: near the grace period means the
	// container ignored the stop signal and was killed (ExitCode 137).
	Elapsed time.Duration
}

// Start creates and starts a detached container (not --rm, so its exit code
// and logs stay readable) and registers its removal with t.Cleanup.
func (e *Env) Start(t testing.TB, r Run) *Container {
	t.Helper()
	name := fmt.Sprintf("sealenv-e2e-%d-%d", os.Getpid(), counter.Add(1))
	args := []string{"run", "--detach", "--name", name,
		"--network=none",
		"--ulimit", "nofile=4096:4096",
		"--ulimit", "nproc=4096:4096",
	}
	var env []string
	for _, k := range sortedKeys(r.Env) {
		if podmanReads(k) {
			args = append(args, "--env", k+"="+r.Env[k])
			continue
		}
		args = append(args, "--env", k)
		env = append(env, k+"="+r.Env[k])
	}
	if len(r.Secrets) > 0 || len(r.Files) > 0 {
		dir, err := os.MkdirTemp(e.Dir, "mounts-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		files := map[string][]byte{}
		for k, v := range r.Files {
			if !filepath.IsAbs(k) {
				t.Fatalf("Run.Files: %q is not an absolute path", k)
			}
			files[k] = v
		}
		for k, v := range r.Secrets {
			if strings.Contains(k, "/") {
				t.Fatalf("Run.Secrets: %q must be a plain file name", k)
			}
			files["/run/secrets/"+k] = v
		}
		for i, k := range sortedKeys(files) {
			host := filepath.Join(dir, strconv.Itoa(i))
			// 0444 inside a 0700 folder: readable by any user in the
			// container, by nobody else on the host.
			writeFile(t, host, files[k], 0o444)
			args = append(args, "--volume", host+":"+k+":ro")
		}
	}
	if r.Entrypoint != nil {
		ep, _ := json.Marshal(r.Entrypoint)
		args = append(args, "--entrypoint", string(ep))
	}
	args = append(args, r.Flags...)
	args = append(args, r.Image)
	args = append(args, r.Cmd...)
	// Registered before the run: a container that was created but failed
	// to start is removed too.
	t.Cleanup(func() {
		out, err := e.podmanCmd(nil, "rm", "--force", "--ignore", "--time", "0", name).CombinedOutput()
		if err != nil {
			t.Logf("podman rm %s: %s", name, oneLine(out))
		}
	})
	var stderr bytes.Buffer
	cmd := e.podmanCmd(env, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman run %s: %v: %s", r.Image, err, oneLine(stderr.Bytes()))
	}
	return &Container{e: e, Name: name}
}

// Run runs a container to its end and returns its output and exit code.
// The exit code is the container's own (read with podman wait), never
// podman's: both use 125-127.
func (e *Env) Run(t testing.TB, r Run) Result {
	t.Helper()
	c := e.Start(t, r)
	code := c.Wait(t)
	stdout, stderr := c.Logs(t)
	return Result{Stdout: stdout, Stderr: stderr, ExitCode: code}
}

// Wait waits for the container to exit and returns its exit code.
func (c *Container) Wait(t testing.TB) int {
	t.Helper()
	out := strings.TrimSpace(c.e.PodmanOut(t, "wait", c.Name))
	code, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("podman wait %s: not an exit code: %q", c.Name, out)
	}
	return code
}

// Logs returns what the container wrote so far to stdout and to stderr.
func (c *Container) Logs(t testing.TB) (stdout, stderr string) {
	t.Helper()
	var o, s bytes.Buffer
	cmd := c.e.podmanCmd(nil, "logs", c.Name)
	cmd.Stdout, cmd.Stderr = &o, &s
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman logs %s: %v: %s", c.Name, err, oneLine(s.Bytes()))
	}
	return o.String(), s.String()
}

// WaitForLog polls the container's stdout and stderr until one contains s
// (the app is ready, say), and fails t if the container exits first or
// nothing comes within a minute.
func (c *Container) WaitForLog(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		stdout, stderr := c.Logs(t)
		if strings.Contains(stdout, s) || strings.Contains(stderr, s) {
			return
		}
		state := strings.TrimSpace(c.e.PodmanOut(t, "inspect", "--format", "{{.State.Status}}", c.Name))
		if state == "exited" || state == "stopped" {
			stdout, stderr = c.Logs(t)
			if strings.Contains(stdout, s) || strings.Contains(stderr, s) {
				return
			}
			t.Fatalf("container %s exited before printing %q; stderr: %s", c.Name, s, oneLine([]byte(stderr)))
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s printed no %q within %v", c.Name, s, startTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Exec runs a command in the running container (podman exec) and returns
// its output and exit code; the image must hold the program (the probe, say).
func (c *Container) Exec(t testing.TB, args ...string) Result {
	t.Helper()
	var o, s bytes.Buffer
	cmd := c.e.podmanCmd(nil, append([]string{"exec", c.Name}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &s
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("podman exec %s: %v", c.Name, err)
		}
		code = ee.ExitCode()
	}
	return Result{Stdout: o.String(), Stderr: s.String(), ExitCode: code}
}

// Diff lists what changed in the container's file system since it was
// created, one "A /path", "C /path" or "D /path" a line (podman diff): a
// way to prove nothing was written to disk. A container from a scratch
// image starts with "A /etc": podman's mount points for hosts, hostname
// and resolv.conf.
func (c *Container) Diff(t testing.TB) []string {
	t.Helper()
	out := strings.TrimSpace(c.e.PodmanOut(t, "diff", c.Name))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// Stop runs podman stop with the given grace period (SIGTERM, then SIGKILL
// after grace) and returns the exit code, logs and how long the stop took.
func (c *Container) Stop(t testing.TB, grace time.Duration) Stopped {
	t.Helper()
	secs := int((grace + time.Second - 1) / time.Second)
	start := time.Now()
	c.e.PodmanOut(t, "stop", "--time", strconv.Itoa(secs), c.Name)
	elapsed := time.Since(start)
	code := c.Wait(t)
	stdout, stderr := c.Logs(t)
	return Stopped{Result: Result{Stdout: stdout, Stderr: stderr, ExitCode: code}, Elapsed: elapsed}
}

// StopOnSIGTERM stops the container with a 60-second grace period and
// fails the test when the stop took all of it: the process did not end on
// SIGTERM and podman had to SIGKILL it.
func (c *Container) StopOnSIGTERM(t testing.TB) Stopped {
	t.Helper()
	const grace = 60 * time.Second
	st := c.Stop(t, grace)
	if st.Elapsed >= grace {
		t.Errorf("podman stop took %v, the whole grace period", st.Elapsed)
	}
	t.Logf("podman stop took %v", st.Elapsed)
	return st
}

// podmanReads lists variables podman itself reads: they cannot ride in its
// environment without changing what podman does.
func podmanReads(name string) bool {
	switch name {
	case "PATH", "HOME", "TMPDIR", "USER", "TZ", "LANG", "NOTIFY_SOCKET", "DBUS_SESSION_BUS_ADDRESS":
		return true
	}
	for _, p := range []string{"LC_", "XDG_", "CONTAINERS_", "CONTAINER_", "_CONTAINERS_", "GO", "PODMAN_", "STORAGE_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
