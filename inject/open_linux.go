//go:build linux

package inject

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// readDeadline bounds how long the injector waits for one identity or one
// bundle: to open it and to read it whole. A start never hangs on a FIFO
// nobody writes, a descriptor nobody closes, or a stuck network or FUSE
// file system.
var readDeadline = 10 * time.Second

// errTimeout is what a read that outlived readDeadline returns.
var errTimeout = errors.New("timed out")

// readRegular reads the regular file at path, at most limit bytes (it
// returns limit+1 bytes when the file is longer, so the caller can refuse
// it). The file is opened non-blocking and checked with fstat before any
// read: a FIFO, a device, a socket or a directory is refused at once,
// never read. Opening and reading have a deadline.
func readRegular(path string, limit int) ([]byte, error) {
	return withDeadline(readDeadline, func() ([]byte, error) {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil, fmt.Errorf("not a regular file (%s); only regular files are read", fileKind(st.Mode))
		}
		// Read into a buffer of the file's size: growing one from 512
		// bytes costs a measurable share of a start.
		data := make([]byte, 0, min(int(st.Size), limit)+1)
		for {
			if len(data) == cap(data) {
				data = append(data, 0)[:len(data)]
			}
			n, err := unix.Read(fd, data[len(data):cap(data)])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				clear(data[:cap(data)])
				return nil, err
			}
			if n == 0 {
				return data, nil
			}
			data = data[:len(data)+n]
			if len(data) > limit {
				return data[:limit+1], nil
			}
		}
	})
}

// fileKind names a file type for an error.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFDIR:
		return "a directory"
	}
	return "not a file"
}

// withDeadline runs read and waits at most d for it. When it gives up, the
// read goes on in the background and whatever it returns is zeroed; the
// injector exits with an error soon after anyway.
func withDeadline(d time.Duration, read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	var (
		mu        sync.Mutex
		abandoned bool
	)
	done := make(chan result, 1)
	go func() {
		data, err := read()
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			clear(data)
			return
		}
		done <- result{data, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-done:
		return r.data, r.err
	case <-t.C:
	}
	mu.Lock()
	abandoned = true
	mu.Unlock()
	select {
	case r := <-done: // it finished just in time
		return r.data, r.err
	default:
	}
	return nil, fmt.Errorf("%w after %v", errTimeout, d)
}

// readFD reads an identity from the inherited descriptor fd, to its end,
// at most limit+1 bytes, within readDeadline. The descriptor is made
// non-blocking for the read and polled, so a pipe whose writer never closes
// ends in an error, not a hang; its flags are restored afterwards, since
// the open file may be shared with another process. Then the descriptor is
// closed so the command does not inherit it; fd 0 is replaced by /dev/null
// instead, so the command still gets a stdin (reading end of file, as with
// docker run without -i), and one that cannot be rewound to read the key.
// Standard output and error, write-only descriptors and terminals are
// refused.
func readFD(fd, limit int) (data []byte, err error) {
	if fd < 0 {
		return nil, unix.EBADF
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err // EBADF for a descriptor that is not open
	}
	if fd == 1 || fd == 2 {
		return nil, errors.New("standard output and standard error belong to the command; pass the identity on fd 0 or 3 and up")
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_ACCMODE == unix.O_WRONLY {
		return nil, errors.New("not open for reading")
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		return nil, errors.New("a terminal: a key typed there is echoed in the clear; pipe it in or use a file")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	defer func() {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
		if fd == 0 {
			if rerr := stdinToDevNull(); rerr != nil && err == nil {
				clear(data)
				data, err = nil, rerr
			}
			return
		}
		unix.Close(fd)
	}()

	deadline := time.Now().Add(readDeadline)
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), 2*cap(buf))
			copy(grown, buf)
			clear(buf)
			buf = grown
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			left := time.Until(deadline)
			if left <= 0 {
				clear(buf)
				return nil, fmt.Errorf("no end of input %w after %v (the writer keeps the descriptor open)", errTimeout, readDeadline)
			}
			_, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
			if perr != nil && perr != unix.EINTR {
				clear(buf)
				return nil, perr
			}
			continue
		case err != nil:
			clear(buf)
			return nil, err
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf[:limit+1], nil
		}
	}
}

// stdinToDevNull replaces fd 0 with /dev/null.
func stdinToDevNull() error {
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("giving the command /dev/null as stdin: %v", err)
	}
	defer unix.Close(null)
	if err := unix.Dup3(null, 0, 0); err != nil {
		return fmt.Errorf("giving the command /dev/null as stdin: %v", err)
	}
	return nil
}

// permissionReason explains why the injector may not read path: the
// uid and groups it runs as (the image's USER, or --user), the file's (or
// its directory's) owner and mode, and what would work. It never reads
// the file.
func permissionReason(path string) string {
	uid, gid := os.Getuid(), os.Getgid()
	groups, _ := os.Getgroups()
	who := fmt.Sprintf("the injector runs as uid %d gid %d", uid, gid)
	if len(groups) > 0 {
		var gs []string
		for _, g := range groups {
			gs = append(gs, strconv.Itoa(g))
		}
		who += " (groups " + strings.Join(gs, ",") + ")"
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		// The file cannot even be looked at: a directory on the way.
		dir := filepath.Dir(path)
		var ds unix.Stat_t
		if unix.Stat(dir, &ds) == nil {
			return fmt.Sprintf("permission denied: %s, which may not enter %s (owner %d:%d, mode %04o); give the directory the x permission for uid %d, or mount the identity elsewhere",
				who, dir, ds.Uid, ds.Gid, ds.Mode&0o7777, uid)
		}
		return fmt.Sprintf("permission denied: %s, which may not look up %s; mount the identity in a directory uid %d can enter", who, path, uid)
	}
	return fmt.Sprintf("permission denied: %s; the file is owner %d:%d, mode %04o: make it readable by uid %d: owner %d with mode 0400, or group %d with mode 0440 (compose: the secret's uid, gid and mode; Kubernetes: securityContext.fsGroup %d and the secret volume's defaultMode 0440)",
		who, st.Uid, st.Gid, st.Mode&0o7777, uid, uid, gid, gid)
}
