//go:build linux

package inject

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/sealenv/sealenv/internal/fserr"
	"golang.org/x/sys/unix"
)

// drainGrace bounds how long the redactor keeps reading the command's output
// after the command exited while something it started still holds the pipe.
const drainGrace = 200 * time.Millisecond

// Run decrypts the bundles and starts the command. In exec mode it replaces
// the process and returns only on failure. In supervise mode it returns the
// exit status to end with: the command's, or 128+N when a signal N killed
// it. A non-nil error means the command never started; [ExitCode] gives the
// status (125, 126 or 127).
func Run(c Config) (int, error) {
	c.defaults()
	if err := c.check(); err != nil {
		return ExitCode(err), err
	}
	// Keep the decrypted values out of core dumps and away from ptrace by
	// processes of the same user. execve resets this for the command.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)

	l, err := c.load()
	if err != nil {
		return ExitCode(err), err
	}
	defer l.zero()
	p, err := c.plan(l)
	if err != nil {
		return ExitCode(err), err
	}
	path, err := lookPath(c.Args[0], p.pathVar())
	if err != nil {
		return ExitCode(err), err
	}

	fds := make([]int, 0, len(p.files))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, f := range p.files {
		fd, err := memfd(f.name, f.value)
		if err != nil {
			return ExitFailure, fail(ExitFailure, "%s: %v", c.mention(SettingFiles, f.name), err)
		}
		fds = append(fds, fd)
	}

	a := newArena(p)
	env := make([]string, 0, len(p.base)+len(p.set)+len(p.files))
	env = append(env, p.base...)
	for _, s := range p.set {
		env = append(env, a.entry(s.Name, s.Value))
	}
	for i, f := range p.files {
		env = append(env, f.target+"="+fdPath(fds[i]))
	}

	sealed := make(map[string]bool, len(p.set))
	for _, s := range p.set {
		sealed[s.Name] = true
	}
	perString, total := execLimits()
	if err := c.checkExecSize(path, c.Args, env, sealed, perString, total); err != nil {
		a.free()
		return ExitCode(err), err
	}

	var mt *Matcher
	if c.Redact {
		mt = NewMatcher(l.secrets)
		defer mt.Zero()
	}
	c.accessLog(l, p, path)

	if !c.Supervise {
		err := syscall.Exec(path, c.Args, env)
		a.free()
		return execFailure(path, err)
	}
	cleanup := func() {
		a.free()
		l.zero()
	}
	return c.supervise(path, env, mt, cleanup)
}

// pathVar is the PATH the command is looked up in: the one the child gets.
func (p *envPlan) pathVar() string {
	for _, s := range p.set {
		if s.Name == "PATH" {
			return string(s.Value)
		}
	}
	for i := len(p.base) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(p.base[i], "PATH="); ok {
			return v
		}
	}
	return defaultPath
}

// defaultPath is used when PATH is unset, as in Docker images.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath resolves the command like execvp, with exit statuses: 127 when
// nothing is found, 126 when only something not executable is.
func lookPath(file, pathVar string) (string, error) {
	check := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return syscall.EISDIR
		}
		return unix.Access(p, unix.X_OK)
	}
	if strings.Contains(file, "/") {
		err := check(file)
		if err == nil {
			return file, nil
		}
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return "", fail(ExitNotFound, "%s: command not found", file)
		}
		return "", fail(ExitNotExecutable, "%s: cannot execute: %v", file, fserr.Reason(err))
	}
	var denied error
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		err := check(p)
		if err == nil {
			return p, nil
		}
		if denied == nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			denied = fail(ExitNotExecutable, "%s: cannot execute: %v", p, fserr.Reason(err))
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", fail(ExitNotFound, "%s: command not found in PATH", file)
}

// execFailure maps an execve error to the injector's exit status.
func execFailure(path string, err error) (int, error) {
	if errors.Is(err, syscall.E2BIG) {
		// checkExecSize should have caught it; the command did not start.
		err = fail(ExitFailure, "%s: cannot execute: %v (deliver large values as in-memory files)", path, err)
		return ExitCode(err), err
	}
	if errors.Is(err, syscall.ENOENT) {
		err = fail(ExitNotFound, "%s: cannot execute: %v (missing interpreter?)", path, err)
	} else {
		err = fail(ExitNotExecutable, "%s: cannot execute: %v", path, err)
	}
	return ExitCode(err), err
}

// memfd puts value into an anonymous in-memory file, sealed against
// changes, and returns its descriptor. The descriptor is not close-on-exec,
// so the command inherits it at the same number.
func memfd(name string, value []byte) (int, error) {
	fd, err := unix.MemfdCreate("sealenv:"+name, unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %v (no file is written to disk instead)", err)
	}
	for rest := value; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("writing memfd: %v", err)
		}
		rest = rest[n:]
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sealing memfd: %v", err)
	}
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("rewinding memfd: %v", err)
	}
	return fd, nil
}

// arena holds the "NAME=value" entries of the environment in memory outside
// the Go heap: locked against swapping where RLIMIT_MEMLOCK allows, excluded
// from core dumps, and zeroed by free.
type arena struct {
	mem    []byte
	off    int
	mapped bool
}

func newArena(p *envPlan) *arena {
	size := 0
	for _, s := range p.set {
		size += len(s.Name) + 1 + len(s.Value)
	}
	a := &arena{}
	if size == 0 {
		return a
	}
	page := os.Getpagesize()
	size = (size + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		a.mem = make([]byte, size)
		return a
	}
	a.mem, a.mapped = mem, true
	_ = unix.Mlock(mem)                       // best effort: RLIMIT_MEMLOCK may be tiny
	_ = unix.Madvise(mem, unix.MADV_DONTDUMP) // best effort
	return a
}

// entry writes "name=value" into the arena and returns a string that shares
// its memory. The string must not be used after free.
func (a *arena) entry(name string, value []byte) string {
	start := a.off
	a.off += copy(a.mem[a.off:], name)
	a.mem[a.off] = '='
	a.off++
	a.off += copy(a.mem[a.off:], value)
	return unsafe.String(&a.mem[start], a.off-start)
}

func (a *arena) free() {
	if a.mem == nil {
		return
	}
	clear(a.mem)
	if a.mapped {
		_ = unix.Munlock(a.mem)
		_ = unix.Munmap(a.mem)
	}
	a.mem = nil
}

// supervise starts the command as a child in its own process group, forwards
// signals to that group, reaps every child that ends up with the injector,
// and returns the command's exit status.
func (c *Config) supervise(path string, env []string, mt *Matcher, cleanup func()) (int, error) {
	sigs := make(chan os.Signal, 256)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	if os.Getpid() != 1 {
		// Orphans of the command are re-parented to us, not to PID 1 of the
		// host or container, so we can reap them.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}

	files := []uintptr{c.Stdin.Fd(), 0, 0}
	var copiers []*copier
	for i, w := range []io.Writer{c.Stdout, c.Stderr} {
		f, isFile := w.(*os.File)
		if isFile && mt == nil {
			files[i+1] = f.Fd()
			continue
		}
		r, pw, err := os.Pipe()
		if err != nil {
			cleanup()
			return ExitFailure, fail(ExitFailure, "creating output pipe: %v", err)
		}
		files[i+1] = pw.Fd()
		cp := &copier{r: r, pw: pw, w: w, done: make(chan struct{})}
		if mt != nil {
			cp.red = mt.Writer(w)
			cp.w = cp.red
		}
		copiers = append(copiers, cp)
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if fg, ok := foregroundTTY(int(c.Stdin.Fd())); ok && fg {
		// An interactive shell in the command reads the terminal: make its
		// group the terminal's foreground group.
		sys.Foreground, sys.Ctty = true, 0
	}
	pid, err := syscall.ForkExec(path, c.Args, &syscall.ProcAttr{Env: env, Files: files, Sys: sys})
	cleanup()
	for _, cp := range copiers {
		cp.pw.Close() // the child has its own copy
	}
	if err != nil {
		for _, cp := range copiers {
			cp.r.Close()
		}
		return execFailure(path, err)
	}
	for _, cp := range copiers {
		go cp.run()
	}

	var status syscall.WaitStatus
	exited := false
	reap := func() {
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || wpid <= 0 {
				return
			}
			if wpid == pid {
				status, exited = ws, true
			}
		}
	}
	// A safety net in case a flood of signals overflowed the channel and a
	// SIGCHLD was dropped.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for reap(); !exited; {
		select {
		case s := <-sigs:
			sig, ok := s.(syscall.Signal)
			if !ok {
				continue
			}
			if sig == syscall.SIGCHLD {
				reap()
			}
			if forwarded(sig) {
				if err := syscall.Kill(-pid, sig); err == syscall.ESRCH {
					_ = syscall.Kill(pid, sig)
				}
			}
		case <-tick.C:
			reap()
		}
	}
	for _, cp := range copiers {
		cp.r.SetReadDeadline(time.Now().Add(drainGrace))
	}
	for _, cp := range copiers {
		<-cp.done
	}
	reap()
	switch {
	case status.Exited():
		return status.ExitStatus(), nil
	case status.Signaled():
		return 128 + int(status.Signal()), nil
	}
	return ExitFailure, fail(ExitFailure, "%s: unexpected wait status %#x", path, uint32(status))
}

// forwarded reports whether a signal the injector receives goes on to the
// command's process group: every one but SIGCHLD (about the injector's own
// children) and SIGURG (the Go runtime preempts goroutines with it, so the
// injector receives its own).
func forwarded(sig syscall.Signal) bool {
	return sig != syscall.SIGCHLD && sig != syscall.SIGURG
}

// copier moves one output stream of the command to its writer.
type copier struct {
	r    *os.File
	w    io.Writer
	red  *Redactor
	done chan struct{}
	pw   *os.File // the write end, closed in the parent after the fork
}

func (cp *copier) run() {
	defer close(cp.done)
	buf := make([]byte, 64<<10)
	defer clear(buf)
	w := cp.w
	for {
		n, err := cp.r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = io.Discard // keep draining so the command never blocks
			}
		}
		if err != nil {
			break
		}
	}
	if cp.red != nil && w != io.Discard {
		cp.red.Flush()
	}
	cp.r.Close()
}

// foregroundTTY reports whether fd is a terminal and, if so, whether this
// process's group is its foreground group.
func foregroundTTY(fd int) (fg, isTTY bool) {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return false, false
	}
	return pgrp == unix.Getpgrp(), true
}
