package e2e

// The harness: it finds podman, runc, buildkitd and buildctl, starts one
// buildkitd for the whole test binary on a socket in a private temp folder,
// gives podman a private store in the same folder, and removes all of it on
// every exit path (TestMain, SIGINT/SIGTERM, and the next run reaping what a
// killed run left). See docs/e2e.md.
//
// Entry points for a test:
//
//	e := needBuildKit(t) // buildkitd + buildctl (+ runc); skips or fails if missing
//	e := needPodman(t)   // podman + runc
//	e := need(t)         // both
//
//	probe := e.GoBuild(t, "./testdata/probe")       // any package of the module, static
//	img := e.Build(t, Build{Dockerfile: ..., Copy: map[string]string{"probe": probe}})
//	name := e.Load(t, img)                           // podman load
//	res := e.Run(t, Run{Image: name, Cmd: []string{"env"}})
//	c := e.Start(t, Run{...}); c.WaitForLog(t, "ready"); st := c.Stop(t, 30*time.Second)

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BuildKitVersion is the version scripts/setup-e2e.sh builds and caches.
const BuildKitVersion = "v0.26.3"

// dirPrefix names the private temp folder of one test binary run.
const dirPrefix = "sealenv-e2e-"

// startTimeout bounds how long buildkitd may take to answer, and how long
// WaitForLog polls. They are limits against hangs, not timings under test.
const startTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	reapStale()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: got %v, stopping what the harness started\n", s)
		shutdown()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	code := m.Run()
	shutdown()
	os.Exit(code)
}

// Env is the set of real parts one test binary run uses. There is one, made
// on first use by need, needBuildKit or needPodman.
type Env struct {
	Dir       string // private temp folder: buildkit root, podman store, images, binaries
	Podman    string
	Runc      string
	Buildkitd string
	Buildctl  string
	Addr      string // buildkitd address, unix://Dir/buildkitd.sock

	problems map[string]string // part -> what is missing; empty when all is there

	bkOnce sync.Once
	bkErr  error
	bkd    *exec.Cmd
	bkDone chan error

	podOnce sync.Once
	podErr  error

	binMu sync.Mutex
	bins  map[string]string
}

var (
	envMu   sync.Mutex
	theEnv  *Env
	envErr  error
	counter atomic.Int64
)

// requirePeers reports whether a missing part must fail the test (CI) rather
// than skip it.
func requirePeers() bool { return os.Getenv("SEALENV_REQUIRE_PEERS") == "1" }

// missing skips t, or fails it under SEALENV_REQUIRE_PEERS=1, saying what is
// missing.
func missing(t testing.TB, what string) {
	t.Helper()
	if requirePeers() {
		t.Fatalf("e2e: %s (SEALENV_REQUIRE_PEERS=1 forbids skipping; run scripts/setup-e2e.sh)", what)
	}
	t.Skipf("e2e: %s; run scripts/setup-e2e.sh to install it", what)
}

// need returns the environment with buildkitd running and podman ready.
func need(t testing.TB) *Env {
	t.Helper()
	e := needBuildKit(t)
	needPodman(t)
	return e
}

// needBuildKit returns the environment with buildkitd running.
func needBuildKit(t testing.TB) *Env {
	t.Helper()
	e := baseEnv(t)
	for _, part := range []string{"root", "runc", "buildkitd", "buildctl"} {
		if p := e.problems[part]; p != "" {
			missing(t, p)
		}
	}
	e.bkOnce.Do(func() { e.bkErr = e.startBuildkitd() })
	if e.bkErr != nil {
		// Present but not working is a failure, not something missing.
		t.Fatalf("e2e: %v", e.bkErr)
	}
	return e
}

// needPodman returns the environment with podman's private store ready.
func needPodman(t testing.TB) *Env {
	t.Helper()
	e := baseEnv(t)
	for _, part := range []string{"root", "runc", "podman"} {
		if p := e.problems[part]; p != "" {
			missing(t, p)
		}
	}
	e.podOnce.Do(func() { e.podErr = e.initPodman() })
	if e.podErr != nil {
		t.Fatalf("e2e: %v", e.podErr)
	}
	return e
}

func baseEnv(t testing.TB) *Env {
	t.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	if theEnv == nil && envErr == nil {
		theEnv, envErr = newEnv()
	}
	if envErr != nil {
		t.Fatalf("e2e: %v", envErr)
	}
	return theEnv
}

func newEnv() (*Env, error) {
	e := &Env{problems: map[string]string{}, bins: map[string]string{}}
	if os.Geteuid() != 0 {
		e.problems["root"] = "not running as root: rootful buildkitd and podman need root"
	}
	var err error
	if e.Runc, err = findTool("SEALENV_RUNC", "runc", nil); err != nil {
		e.problems["runc"] = err.Error()
	}
	if e.Podman, err = findTool("SEALENV_PODMAN", "podman", nil); err != nil {
		e.problems["podman"] = err.Error()
	}
	bin := buildkitBinDir()
	if e.Buildkitd, err = findTool("SEALENV_BUILDKITD", "buildkitd", []string{bin}); err != nil {
		e.problems["buildkitd"] = err.Error()
	}
	if e.Buildctl, err = findTool("SEALENV_BUILDCTL", "buildctl", []string{bin}); err != nil {
		e.problems["buildctl"] = err.Error()
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("make the harness folder: %w", err)
	}
	// Short absolute path: a unix socket path must stay under 108 bytes.
	e.Dir = dir
	e.Addr = "unix://" + filepath.Join(dir, "buildkitd.sock")
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, fmt.Errorf("write owner.pid: %w", err)
	}
	return e, nil
}

// buildkitBinDir is where scripts/setup-e2e.sh caches buildkitd and buildctl.
func buildkitBinDir() string {
	if d := os.Getenv("SEALENV_E2E_BIN_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "sealenv-e2e", "buildkit-"+BuildKitVersion)
}

// findTool looks for name in $envVar, then dirs, then PATH and the sbin
// folders that a non-login PATH may leave out.
func findTool(envVar, name string, dirs []string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file", envVar, p)
		}
		return p, nil
	}
	for _, d := range dirs {
		if d != "" && isExecutable(filepath.Join(d, name)) {
			return filepath.Join(d, name), nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if isExecutable(filepath.Join(d, name)) {
			return filepath.Join(d, name), nil
		}
	}
	where := "PATH"
	if len(dirs) > 0 && dirs[0] != "" {
		where = dirs[0] + " or PATH"
	}
	return "", fmt.Errorf("%s not found (set %s, or put it in %s)", name, envVar, where)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// ---- buildkitd ------------------------------------------------------------

func (e *Env) startBuildkitd() error {
	root := filepath.Join(e.Dir, "buildkit")
	cfg := filepath.Join(e.Dir, "buildkitd.toml")
	// An empty config: the host's /etc/buildkit/buildkitd.toml must not leak in.
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(e.Dir, "buildkitd.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(e.Buildkitd,
		"--config", cfg,
		"--root", root,
		"--addr", e.Addr,
		"--otel-socket-path", filepath.Join(e.Dir, "otel.sock"),
		"--oci-worker=true",
		"--containerd-worker=false",
		"--oci-worker-binary", e.Runc,
		"--oci-worker-net", "host",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so one kill reaches runc and every child; and
	// SIGTERM if this process dies without running TestMain's shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	e.bkDone = make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child ends, not the
		// process: keep this thread locked and alive until buildkitd exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		e.bkDone <- cmd.Wait()
		logf.Close()
	}()
	if err := <-started; err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %v", e.Buildkitd, err)
	}
	e.bkd = cmd
	_ = os.WriteFile(filepath.Join(e.Dir, "buildkitd.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case err := <-e.bkDone:
			e.bkDone <- err
			return fmt.Errorf("buildkitd exited at start (%v): %s", err, lastLine(filepath.Join(e.Dir, "buildkitd.log")))
		default:
		}
		out, err := exec.Command(e.Buildctl, "--addr", e.Addr, "debug", "workers").CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("linux/")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("buildkitd did not answer on %s within %v: %s", e.Addr, startTimeout, lastLine(filepath.Join(e.Dir, "buildkitd.log")))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *Env) stopBuildkitd() {
	if e.bkd == nil {
		return
	}
	pgid := e.bkd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.bkDone:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.bkDone
	}
	// Anything of its group still alive (a runc it started) goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	e.bkd = nil
}

// ---- podman -----------------------------------------------------------------

func (e *Env) initPodman() error {
	conf := filepath.Join(e.Dir, "containers.conf")
	// File locks instead of the host-wide shared-memory lock table, so this
	// private store cannot disturb (or be disturbed by) the host's podman.
	// k8s-file logs keep stdout and stderr apart for Container.Logs.
	text := `[containers]
log_driver = "k8s-file"

[engine]
lock_type = "file"
events_logger = "none"
`
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return err
	}
	// Our own storage.conf: the host's may name fuse-overlayfs, extra image
	// stores or another driver. SEALENV_E2E_STORAGE_DRIVER=vfs is the way
	// out where overlay cannot mount (a /tmp that is itself an overlay).
	driver := os.Getenv("SEALENV_E2E_STORAGE_DRIVER")
	if driver == "" {
		driver = "overlay"
	}
	storage := fmt.Sprintf("[storage]\ndriver = %q\ngraphroot = %q\nrunroot = %q\n",
		driver, filepath.Join(e.Dir, "podman", "root"), filepath.Join(e.Dir, "podman", "run"))
	if err := os.WriteFile(filepath.Join(e.Dir, "storage.conf"), []byte(storage), 0o644); err != nil {
		return err
	}
	out, err := e.podmanCmd(nil, "info", "--format", "{{.Store.GraphRoot}} {{.Host.OCIRuntime.Path}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("podman info failed: %s", oneLine(out))
	}
	return nil
}

// podmanArgs are the global flags every podman call gets: the settings this
// kernel accepts, and the private store under e.Dir.
func (e *Env) podmanArgs() []string {
	return []string{
		"--runtime", e.Runc,
		"--cgroup-manager=cgroupfs",
		"--events-backend=none",
		"--root", filepath.Join(e.Dir, "podman", "root"),
		"--runroot", filepath.Join(e.Dir, "podman", "run"),
		"--tmpdir", filepath.Join(e.Dir, "podman", "tmp"),
	}
}

func (e *Env) podmanCmd(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(e.Podman, append(e.podmanArgs(), args...)...)
	cmd.Env = append(podmanEnv(e.Dir), extraEnv...)
	return cmd
}

// podmanEnv is the environment of every podman call on the store in dir.
func podmanEnv(dir string) []string {
	return append(withoutEnv(os.Environ(), "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"))
}

// PodmanOut runs podman with the harness's flags and store, and returns its
// stdout; it fails t with podman's stderr if podman fails.
func (e *Env) PodmanOut(t testing.TB, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := e.podmanCmd(nil, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, oneLine(stderr.Bytes()))
	}
	return stdout.String()
}

// ---- shutdown and reaping -------------------------------------------------

var shutdownOnce sync.Once

// shutdown stops everything the harness started and removes its folder.
func shutdown() {
	shutdownOnce.Do(func() {
		envMu.Lock()
		e := theEnv
		envMu.Unlock()
		if e == nil {
			return
		}
		e.stopBuildkitd()
		cleanDir(e.Dir, e.Podman, e.podmanArgs())
	})
}

// cleanDir removes every container of the private podman store under dir,
// unmounts anything left mounted below dir, and removes dir.
func cleanDir(dir, podman string, podmanArgs []string) {
	if podman != "" {
		_, err1 := os.Stat(filepath.Join(dir, "containers.conf"))
		_, err2 := os.Stat(filepath.Join(dir, "storage.conf"))
		if err1 == nil && err2 == nil {
			cmd := exec.Command(podman, append(podmanArgs, "rm", "--all", "--force", "--time", "0")...)
			cmd.Env = podmanEnv(dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: podman rm --all in %s: %s\n", dir, oneLine(out))
			}
		}
	}
	unmountBelow(dir)
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: remove %s: %v\n", dir, err)
	}
}

// reapStale cleans the folders of earlier runs whose test binary is gone
// (killed by SIGKILL or a test timeout before TestMain could clean up).
func reapStale() {
	if os.Geteuid() != 0 {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	podman, _ := findTool("SEALENV_PODMAN", "podman", nil)
	runc, _ := findTool("SEALENV_RUNC", "runc", nil)
	for _, dir := range dirs {
		if pidAlive(filepath.Join(dir, "owner.pid")) {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "buildkitd.pid")); err == nil {
			// Only if that pid is still this folder's buildkitd, not a
			// process that got the number since.
			pid, err := strconv.Atoi(string(b))
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err == nil && pid > 1 && bytes.Contains(cmdline, []byte(filepath.Join(dir, "buildkit"))) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		stale := &Env{Dir: dir, Runc: runc}
		p := podman
		if runc == "" {
			p = ""
		}
		cleanDir(dir, p, stale.podmanArgs())
	}
}

func pidAlive(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		// A folder without an owner is being set up right now, or is not ours.
		return true
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil || pid <= 0 {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// unmountBelow lazily unmounts every mount point under dir, deepest first.
func unmountBelow(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMount(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- static binaries --------------------------------------------------------

// GoBuild builds a package of this module (a path relative to e2e/, such as
// "./testdata/probe" or "../cmd/sealenv-inject", or an import path) as a
// static binary for an image (CGO_ENABLED=0, stripped, -trimpath) once per
// test binary run, and returns its path. A static build shares little of
// the build cache that go test fills: the first static build of a package
// with many dependencies (cmd/sealenv, with sops) took minutes here.
func (e *Env) GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	return e.goBuild(t, pkg, true)
}

// GoBuildHost builds a package of this module for the host (a tool the test
// runs, such as "../cmd/sealenv") with go's defaults, so it reuses the
// build cache go vet and go test filled, and returns its path.
func (e *Env) GoBuildHost(t testing.TB, pkg string) string {
	t.Helper()
	return e.goBuild(t, pkg, false)
}

func (e *Env) goBuild(t testing.TB, pkg string, static bool) string {
	t.Helper()
	e.binMu.Lock()
	defer e.binMu.Unlock()
	key := fmt.Sprintf("%s static=%v", pkg, static)
	if p, ok := e.bins[key]; ok {
		return p
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" && isExecutable(filepath.Join(root, "bin", "go")) {
			goTool = filepath.Join(root, "bin", "go")
		} else {
			missing(t, "the go command is not on PATH: cannot build "+pkg)
		}
	}
	out := filepath.Join(e.Dir, "bin", fmt.Sprintf("%d-%s", len(e.bins), filepath.Base(pkg)))
	args := []string{"build", "-o", out, pkg}
	env := os.Environ()
	if static {
		args = []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg}
		env = append(withoutEnv(env, "CGO_ENABLED", "GOOS", "GOARCH"), "CGO_ENABLED=0")
	}
	cmd := exec.Command(goTool, args...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v: %s", pkg, err, oneLine(b))
	}
	e.bins[key] = out
	return out
}

// ---- base images --------------------------------------------------------------

// Rootfs describes a folder that stands in for a base image which cannot be
// pulled here: pass the folder in Build.Contexts under the image's name
// (Contexts: {"golang:1.26": dir}) and FROM golang:1.26 builds on it, with
// the Dockerfile unchanged. Every rootfs has /etc/passwd and /etc/group
// (root, nobody) and a /tmp.
type Rootfs struct {
	// Shell puts the static busybox (Debian's busybox-static) at
	// /bin/busybox with /bin/sh and its other applets as symlinks, so shell
	// form RUN steps work.
	Shell bool
	// Go puts this machine's Go toolchain at /usr/local/go (hard links,
	// so it is quick), /usr/local/bin/go on the default PATH, and the
	// host's CA certificates: a stand-in for the golang image.
	Go bool
	// Files are written into the rootfs (container path -> content, 0644);
	// Copy copies host files in (container path -> host path, mode kept).
	Files map[string][]byte
	Copy  map[string]string
}

// MakeRootfs builds the folder r describes and returns its path.
func (e *Env) MakeRootfs(t testing.TB, r Rootfs) string {
	t.Helper()
	dir, err := os.MkdirTemp(e.Dir, "rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"), 0o644)
	writeFile(t, filepath.Join(dir, "etc/group"), []byte("root:x:0:\nnobody:x:65534:\n"), 0o644)
	for _, d := range []string{"tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if r.Shell {
		bb := e.staticBusybox(t)
		copyFile(t, bb, filepath.Join(dir, "bin/busybox"))
		out, err := exec.Command(bb, "--list").Output()
		if err != nil {
			t.Fatalf("%s --list: %v", bb, err)
		}
		for _, applet := range strings.Fields(string(out)) {
			if applet == "busybox" || strings.Contains(applet, "/") {
				continue
			}
			link := filepath.Join(dir, "bin", applet)
			if err := os.Symlink("busybox", link); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
	}
	if r.Go {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		goroot := strings.TrimSpace(string(out))
		if err != nil || goroot == "" {
			missing(t, "go env GOROOT failed: no Go toolchain to put in a golang stand-in")
		}
		linkTree(t, goroot, filepath.Join(dir, "usr/local/go"), goToolchainSkip)
		if err := os.MkdirAll(filepath.Join(dir, "usr/local/bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"go", "gofmt"} {
			if err := os.Symlink("/usr/local/go/bin/"+tool, filepath.Join(dir, "usr/local/bin", tool)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
			copyFile(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"))
		}
	}
	for p, b := range r.Files {
		writeFile(t, filepath.Join(dir, p), b, 0o644)
	}
	for p, src := range r.Copy {
		copyFile(t, src, filepath.Join(dir, p))
	}
	return dir
}

// staticBusybox finds a statically linked busybox ($SEALENV_BUSYBOX, or
// Debian busybox-static's /bin/busybox): a dynamic one cannot run in an
// image with no libc.
func (e *Env) staticBusybox(t testing.TB) string {
	t.Helper()
	p, err := findTool("SEALENV_BUSYBOX", "busybox", []string{"/bin", "/usr/bin"})
	if err != nil {
		missing(t, err.Error()+": install Debian's busybox-static")
	}
	f, err := elf.Open(p)
	if err != nil {
		missing(t, fmt.Sprintf("%s is not an ELF binary: install Debian's busybox-static", p))
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			missing(t, fmt.Sprintf("%s is dynamically linked: install Debian's busybox-static", p))
		}
	}
	return p
}

// goToolchainSkip leaves out of the golang stand-in what building a program
// never reads (the toolchain's own sources and tests, docs): a third of the
// files, and that much less for BuildKit to transfer and remove.
func goToolchainSkip(rel string, d os.DirEntry) bool {
	switch rel {
	case "api", "doc", "misc", "test", "src/cmd":
		return true
	}
	if d.IsDir() {
		return d.Name() == "testdata"
	}
	return strings.HasSuffix(rel, "_test.go")
}

// linkTree recreates the tree src at dst with hard links (copies when the
// two are on different file systems), leaving out what skip says.
func linkTree(t testing.TB, src, dst string, skip func(rel string, d os.DirEntry) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip != nil && skip(filepath.ToSlash(rel), d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			if err := os.Link(p, target); err == nil {
				return nil
			}
			copyFile(t, p, target)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("link %s into %s: %v", src, dst, err)
	}
}

// ---- builds -----------------------------------------------------------------

// Build is one buildctl build of a Dockerfile with the dockerfile.v0 frontend.
type Build struct {
	// Dockerfile is the Dockerfile's text, written to a folder of its own
	// (never into Context). Empty: Context's own Dockerfile is used.
	Dockerfile string
	// Context is an existing build context folder, used as it is. Empty: a
	// new folder with Files and Copy in it.
	Context string
	// Files are written into the new context (relative path -> content,
	// 0644); not allowed with Context, which the harness never writes to.
	Files map[string][]byte
	// Copy copies host files into the new context (relative path -> host
	// path), keeping their mode; use it for the static binaries from
	// GoBuild. Not allowed with Context.
	Copy map[string]string
	// Args become --opt build-arg:NAME=value (so they do land in the image
	// history and in mode=max provenance).
	Args map[string]string
	// Secrets become --secret id=NAME,env=NAME, with the value only in
	// buildctl's environment, never in its arguments.
	Secrets map[string]string
	// EnvSecrets become --secret id=NAME,env=NAME with no value from the
	// harness: the Wrap command (sealenv inject) provides NAME.
	EnvSecrets []string
	// Contexts are named contexts: NAME -> a host folder (sent with --local
	// and used as --opt context:NAME=local:...) or a value with a scheme
	// ("docker-image://...", "oci-layout://...") passed as it is. A
	// FROM NAME whose image cannot be pulled here resolves to the folder.
	Contexts map[string]string
	// Provenance is "", "min" or "max": --opt attest:provenance=mode=....
	Provenance string
	// Output is "docker" (default) or "oci": the tarball's format.
	Output string
	// Push, when set, pushes the image to this reference (plain HTTP, as
	// to an in-memory registry on 127.0.0.1) instead of writing a tarball:
	// --output type=image,name=PUSH,push=true,registry.insecure=true.
	// Image.Archive is then empty and Image.Ref is "docker://PUSH".
	Push string
	// Name is the image name in the tarball; default
	// localhost/sealenv-e2e/<test>:<n>.
	Name     string
	Target   string   // --opt target=...
	NoCache  bool     // --no-cache
	Opts     []string // more --opt values, as KEY=VALUE
	Wrap     []string // run buildctl under this command: Wrap... buildctl args...
	WrapEnv  []string // extra NAME=value for the Wrap command (and buildctl)
	Platform string   // --opt platform=...
	// Syntax honours a "# syntax=IMAGE" line. By default the harness passes
	// --opt cmdline= so that BuildKit's built-in Dockerfile frontend builds
	// the file itself: the frontend image cannot be pulled here, and a
	// Dockerfile users copy (Dockerfile.example) has the line.
	Syntax bool
}

// Image is a built image tarball.
type Image struct {
	Name    string // the name it carries (and gets from podman load)
	Archive string // path of the tarball
	Format  string // "docker" or "oci": what Build.Output asked for; "registry" for Push
	// Ref is the transport-prefixed reference for sealenv audit and skopeo:
	// "docker-archive:PATH" when the tarball has a manifest.json, else
	// "oci-archive:PATH" (BuildKit's docker exporter writes no manifest.json
	// when there are attestations: the tarball is then an OCI layout).
	Ref string
	Log string // buildctl's plain progress output
}

// Build builds b and fails t with the tail of the build log if it fails.
func (e *Env) Build(t testing.TB, b Build) Image {
	t.Helper()
	img, err := e.TryBuild(t, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(img.Log, 40))
	}
	return img
}

// TryBuild builds b and returns the error (with its log in Image.Log)
// instead of failing t; for builds that are meant to fail.
func (e *Env) TryBuild(t testing.TB, b Build) (Image, error) {
	t.Helper()
	args, env, img := e.BuildctlArgs(t, b)
	argv := append(append([]string{}, b.Wrap...), e.Buildctl)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	err := cmd.Run()
	img.Log = log.String()
	if err != nil {
		return img, fmt.Errorf("buildctl build of %s failed: %v: %s", img.Name, err, lastNonEmpty(img.Log))
	}
	if b.Push != "" {
		return img, nil
	}
	ref, err := archiveRef(img.Archive)
	if err != nil {
		return img, err
	}
	img.Ref = ref
	return img, nil
}

// BuildctlArgs prepares b's context and returns buildctl's arguments
// (starting with --addr), the NAME=value environment it needs (secrets),
// and the Image it will write. For a test that runs buildctl itself.
func (e *Env) BuildctlArgs(t testing.TB, b Build) (args, env []string, img Image) {
	t.Helper()
	n := counter.Add(1)
	ctx := b.Context
	if ctx != "" && (len(b.Files) > 0 || len(b.Copy) > 0) {
		t.Fatalf("Build: Files and Copy go into a new context; with Context %s, put them there yourself", ctx)
	}
	if ctx == "" {
		ctx = t.TempDir()
	}
	dockerfileDir := ctx
	if b.Dockerfile != "" {
		dockerfileDir = t.TempDir()
		writeFile(t, filepath.Join(dockerfileDir, "Dockerfile"), []byte(b.Dockerfile), 0o644)
	}
	for rel, content := range b.Files {
		writeFile(t, filepath.Join(ctx, rel), content, 0o644)
	}
	for rel, src := range b.Copy {
		copyFile(t, src, filepath.Join(ctx, rel))
	}
	format := b.Output
	if format == "" {
		format = "docker"
	}
	if format != "docker" && format != "oci" {
		t.Fatalf("Build.Output %q: want docker or oci", format)
	}
	name := b.Name
	if name == "" {
		name = fmt.Sprintf("localhost/sealenv-e2e/%s:%d", imageComponent(t.Name()), n)
	}
	if err := os.MkdirAll(filepath.Join(e.Dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(e.Dir, "images", fmt.Sprintf("%d.%s.tar", n, format))
	img = Image{Name: name, Archive: dest, Format: format}
	output := fmt.Sprintf("type=%s,dest=%s,name=%s", format, dest, name)
	if b.Push != "" {
		img = Image{Name: b.Push, Format: "registry", Ref: "docker://" + b.Push}
		output = fmt.Sprintf("type=image,name=%s,push=true,registry.insecure=true", b.Push)
	}

	args = []string{"--addr", e.Addr, "build", "--progress", "plain",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + ctx, "--local", "dockerfile=" + dockerfileDir,
		"--output", output,
	}
	for _, k := range sortedKeys(b.Args) {
		args = append(args, "--opt", "build-arg:"+k+"="+b.Args[k])
	}
	for _, k := range sortedKeys(b.Secrets) {
		args = append(args, "--secret", "id="+k+",env="+k)
		env = append(env, k+"="+b.Secrets[k])
	}
	for _, k := range b.EnvSecrets {
		args = append(args, "--secret", "id="+k+",env="+k)
	}
	for i, k := range sortedKeys(b.Contexts) {
		v := b.Contexts[k]
		if strings.Contains(v, "://") {
			args = append(args, "--opt", "context:"+k+"="+v)
			continue
		}
		local := fmt.Sprintf("namedctx%d", i)
		args = append(args, "--local", local+"="+v, "--opt", "context:"+k+"=local:"+local)
	}
	switch b.Provenance {
	case "":
	case "min", "max":
		args = append(args, "--opt", "attest:provenance=mode="+b.Provenance)
	default:
		t.Fatalf("Build.Provenance %q: want min or max", b.Provenance)
	}
	if b.Target != "" {
		args = append(args, "--opt", "target="+b.Target)
	}
	if b.Platform != "" {
		args = append(args, "--opt", "platform="+b.Platform)
	}
	for _, o := range b.Opts {
		args = append(args, "--opt", o)
	}
	if !b.Syntax {
		args = append(args, "--opt", "cmdline=")
	}
	if b.NoCache {
		args = append(args, "--no-cache")
	}
	env = append(env, b.WrapEnv...)
	return args, env, img
}

// archiveRef says how sealenv audit and skopeo address the tarball.
func archiveRef(path string) (string, error) {
	names, err := tarNames(path)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if n == "manifest.json" {
			return "docker-archive:" + path, nil
		}
	}
	for _, n := range names {
		if n == "index.json" {
			return "oci-archive:" + path, nil
		}
	}
	return "", fmt.Errorf("%s has neither manifest.json nor index.json", path)
}

// Load loads an image tarball into the private podman store and returns the
// name podman gave it.
func (e *Env) Load(t testing.TB, img Image) string {
	t.Helper()
	out := e.PodmanOut(t, "load", "--quiet", "--input", img.Archive)
	// "Loaded image: NAME" (one) or "Loaded image(s): A,B".
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(line, "Loaded image") {
			name := strings.TrimSpace(strings.Split(rest, ",")[0])
			if name != "" {
				return name
			}
		}
	}
	t.Fatalf("podman load %s: no image name in its output: %q", img.Archive, out)
	return ""
}

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

// ---- small helpers ----------------------------------------------------------

// randomValue returns a fresh test value: "e2e-" and 2n hex digits.
func randomValue(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "e2e-" + hex.EncodeToString(b)
}

func writeFile(t testing.TB, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imageComponent turns a test name into a valid image name component.
func imageComponent(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	if out == "" {
		out = "image"
	}
	if len(out) > 100 {
		out = out[:100]
	}
	return out
}

// oneLine squeezes command output into one line for an error message.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

func lastNonEmpty(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func lastLine(path string) string {
	b, _ := os.ReadFile(path)
	return lastNonEmpty(string(b))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
