package e2e

// The harness: it finds podman, runc, buildkitd and buildctl, starts one
// buildkitd for the whole test binary on a socket in a private temp folder,
// gives podman a private store in the same folder, and removes all of it on
// every exit path (TestMain, SIGINT/SIGTERM, and the next run reaping what a
// killed run left). Builds are in build_test.go, containers in
// containers_test.go, tarball reading in archive_test.go. See docs/e2e.md.
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
	"encoding/hex"
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
	// TCPAddr is buildkitd's second listener, tcp://127.0.0.1:PORT, with
	// mutual TLS: the client presents TLS.ClientCert, signed by TLS.CA.
	TCPAddr string
	TLS     TLSFiles

	problems map[string]string // part -> what is missing; empty when all is there

	bkOnce sync.Once
	bkErr  error
	bkd    *exec.Cmd
	bkDone chan error

	podOnce sync.Once
	podErr  error

	binMu sync.Mutex
	bins  map[string]string

	dockerOnce sync.Once
	dockerd    *Dockerd
	dockerErr  error
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
	tlsFiles, err := makeTLS(filepath.Join(e.Dir, "tls"))
	if err != nil {
		return fmt.Errorf("make TLS certificates: %w", err)
	}
	tcp, err := freeTCPAddr()
	if err != nil {
		return err
	}
	e.TLS, e.TCPAddr = tlsFiles, "tcp://"+tcp
	logf, err := os.Create(filepath.Join(e.Dir, "buildkitd.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(e.Buildkitd,
		"--config", cfg,
		"--root", root,
		"--addr", e.Addr,
		"--addr", e.TCPAddr, // TLS applies to tcp:// listeners only
		"--tlscert", tlsFiles.ServerCert,
		"--tlskey", tlsFiles.ServerKey,
		"--tlscacert", tlsFiles.CA,
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
		e.dockerd.stop()
		stopPrivateBuildkitds()
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
		if pid := dockerdPid(dir); pid > 1 {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.Contains(cmdline, []byte(filepath.Join(dir, "dk"))) {
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
