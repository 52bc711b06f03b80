package fsutil

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/sealenv/sealenv/internal/duration"
)

// ErrLocked is returned when a lock is still held by another process after
// the wait.
var ErrLocked = errors.New("another sealenv command is writing it")

// errWouldBlock is what tryLock returns for a lock another holder has.
var errWouldBlock = errors.New("lock held")

// DefaultLockWait is how long [Lock] waits for a lock; $SEALENV_LOCK_TIMEOUT
// changes it.
const DefaultLockWait = 30 * time.Second

// EnvLockTimeout names the variable that sets the wait of [Lock].
const EnvLockTimeout = "SEALENV_LOCK_TIMEOUT"

// LockWait returns the wait of [Lock]: $SEALENV_LOCK_TIMEOUT (a duration
// in the syntax of package duration: "90s", "2m", "1h"), else
// [DefaultLockWait]. A value that does not parse is [DefaultLockWait];
// [CheckLockWait] reports it.
func LockWait() time.Duration {
	if s := os.Getenv(EnvLockTimeout); s != "" {
		if d, err := duration.Parse(s); err == nil {
			return d
		}
	}
	return DefaultLockWait
}

// CheckLockWait reports a $SEALENV_LOCK_TIMEOUT that does not parse, so
// that a command can refuse it instead of waiting for a time nobody set.
func CheckLockWait() error {
	if s := os.Getenv(EnvLockTimeout); s != "" {
		if _, err := duration.Parse(s); err != nil {
			return fmt.Errorf("$%s: %w", EnvLockTimeout, err)
		}
	}
	return nil
}

// Lock takes an exclusive advisory lock on the existing file at path, for
// a whole read-modify-write: every sealenv writer takes it, so two writers
// of one bundle run one after the other. It waits up to wait for another
// holder, then fails with [ErrLocked]. A writer replaces the file by
// renaming a new one over it; Lock notices that it locked a replaced file
// and locks the new one. The returned function releases the lock; calling
// it again does nothing.
//
// On Unix the lock is flock(2) on the file. On Windows it is LockFileEx on
// one byte far past the end of the file, so that it never stands in the
// way of reading or writing the content, through a handle that lets the
// file be renamed over while it is held.
func Lock(path string, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := openForLock(path)
		if err != nil {
			return nil, err
		}
		for {
			err = tryLock(f)
			if !errors.Is(err, errWouldBlock) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			f.Close()
			if errors.Is(err, errWouldBlock) {
				return nil, fmt.Errorf("%s: %w (waited %s)", path, ErrLocked, wait)
			}
			return nil, fmt.Errorf("%s: locking: %w", path, err)
		}
		// The holder before us may have renamed a new file over path.
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			var once sync.Once
			return func() { once.Do(func() { unlock(f); f.Close() }) }, nil
		}
		unlock(f)
		f.Close()
		if err2 != nil {
			return nil, err2
		}
	}
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
