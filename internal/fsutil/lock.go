package fsutil

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when a lock is still held by another process after
// the wait.
var ErrLocked = errors.New("another sealenv command is writing it")

// DefaultLockWait is how long [Lock] waits for a lock; $SEALENV_LOCK_TIMEOUT
// (a Go duration) changes it.
const DefaultLockWait = 30 * time.Second

// LockWait returns the wait of [Lock]: $SEALENV_LOCK_TIMEOUT, else
// [DefaultLockWait].
func LockWait() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SEALENV_LOCK_TIMEOUT")); err == nil && d >= 0 {
		return d
	}
	return DefaultLockWait
}

// Lock takes an exclusive advisory lock (flock) on the existing file at
// path, for a whole read-modify-write: every sealenv writer takes it, so
// two writers of one bundle run one after the other. It waits up to wait
// for another holder, then fails with [ErrLocked]. A writer replaces the
// file by renaming a new one over it; Lock notices that it locked a
// replaced file and locks the new one. The returned function releases the
// lock.
func Lock(path string, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s: %w (waited %s)", path, ErrLocked, wait)
			}
			return nil, fmt.Errorf("%s: locking: %w", path, err)
		}
		// The holder before us may have renamed a new file over path.
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && sameFile(held, now) {
			return func() { f.Close() }, nil
		}
		f.Close()
		if err2 != nil {
			return nil, err2
		}
	}
}

func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// LockAll locks every path with [Lock], in sorted order so that two
// processes locking overlapping sets cannot deadlock. On error it releases
// what it took.
func LockAll(paths []string, wait time.Duration) (func(), error) {
	sorted := append([]string{}, paths...)
	sort.Strings(sorted)
	var unlocks []func()
	release := func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	deadline := time.Now().Add(wait)
	for i, p := range sorted {
		if i > 0 && p == sorted[i-1] {
			continue
		}
		u, err := Lock(p, max(time.Until(deadline), 0))
		if err != nil {
			release()
			return nil, err
		}
		unlocks = append(unlocks, u)
	}
	return release, nil
}
