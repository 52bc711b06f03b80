package e2e

// A private Docker Engine for the tests that load images into one
// (`sealenv build --load`, `sealenv wrap ... docker-daemon:NAME`): dockerd
// (Debian's docker.io, Engine 20.10) on a socket in the harness folder, its
// data, exec root and containerd state there too, no iptables, no bridge,
// vfs storage; one per test binary run, stopped and removed with the rest
// of the harness. The docker CLI talks to it with --host.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dockerd is the harness's Docker Engine.
type Dockerd struct {
	Host   string // unix://Dir/docker.sock
	Docker string // the docker CLI
	cmd    *exec.Cmd
	done   chan error
}

// needDocker returns the harness's Docker Engine, started on first use.
func needDocker(t testing.TB) *Dockerd {
	t.Helper()
	e := baseEnv(t)
	if p := e.problems["root"]; p != "" {
		missing(t, p)
	}
	e.dockerOnce.Do(func() { e.dockerd, e.dockerErr = e.startDockerd() })
	if e.dockerErr != nil {
		if strings.HasPrefix(e.dockerErr.Error(), "missing: ") {
			missing(t, strings.TrimPrefix(e.dockerErr.Error(), "missing: "))
		}
		t.Fatalf("e2e: %v", e.dockerErr)
	}
	return e.dockerd
}

func (e *Env) startDockerd() (*Dockerd, error) {
	bin, err := findTool("SEALENV_DOCKERD", "dockerd", nil)
	if err != nil {
		return nil, fmt.Errorf("missing: %v", err)
	}
	cli, err := findTool("SEALENV_DOCKER", "docker", nil)
	if err != nil {
		return nil, fmt.Errorf("missing: %v", err)
	}
	dir := filepath.Join(e.Dir, "dk")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "daemon.json")
	// An empty config: the host's /etc/docker/daemon.json must not leak in.
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		return nil, err
	}
	d := &Dockerd{Host: "unix://" + filepath.Join(dir, "docker.sock"), Docker: cli, done: make(chan error, 1)}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config-file", cfg,
		"--host", d.Host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		"--storage-driver=vfs",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the thread that forked: keep it (see buildkitd).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.done <- cmd.Wait()
		logf.Close()
	}()
	if err := <-started; err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %v", bin, err)
	}
	d.cmd = cmd
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case err := <-d.done:
			d.done <- err
			return nil, fmt.Errorf("dockerd exited at start (%v): %s", err, lastLine(filepath.Join(dir, "dockerd.log")))
		default:
		}
		out, err := exec.Command(cli, "--host", d.Host, "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("dockerd did not answer on %s within %v: %s", d.Host, startTimeout, lastLine(filepath.Join(dir, "dockerd.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends dockerd (and the containerd it started) and waits for it.
func (d *Dockerd) stop() {
	if d == nil || d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// Run runs the docker CLI against the engine and returns its stdout; a
// failure fails t with the CLI's stderr.
func (d *Dockerd) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, errb, code := d.Try(args...)
	if code != 0 {
		t.Fatalf("docker %s: exit %d: %s", strings.Join(args, " "), code, oneLine([]byte(errb)))
	}
	return out
}

// Try runs the docker CLI and returns its output and exit status.
func (d *Dockerd) Try(args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(d.Docker, append([]string{"--host", d.Host}, args...)...)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	if err := cmd.Run(); err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if s.Len() == 0 {
			s.WriteString(err.Error())
		}
	}
	return o.String(), s.String(), code
}

// ImageID returns the ID the engine gives the image ref.
func (d *Dockerd) ImageID(t testing.TB, ref string) string {
	t.Helper()
	return strings.TrimSpace(d.Run(t, "image", "inspect", "--format", "{{.Id}}", ref))
}

// dockerdPid is for the reaper of a killed run: the pid file of its engine.
func dockerdPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "dk", "dockerd.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
