//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// openForLock opens an existing file to lock it.
func openForLock(path string) (*os.File, error) { return os.Open(path) }

// createForLock creates a new file (failing if it exists) to write and
// lock it.
func createForLock(path string, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
}

// tryLock takes an exclusive flock on f without waiting: errWouldBlock
// when another open file holds it.
func tryLock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errWouldBlock
	}
	return err
}

// unlock releases the lock of f (closing f releases it too).
func unlock(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// rename is os.Rename.
func rename(from, to string) error { return os.Rename(from, to) }
