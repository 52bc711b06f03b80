//go:build !linux

package inject

import (
	"errors"
	"io"
	"os"
)

// readRegular reads a file, at most limit+1 bytes. The injector runs on
// Linux only (see Run); this keeps the package building elsewhere.
func readRegular(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

func readFD(fd, limit int) ([]byte, error) {
	return nil, errors.New("reading an identity from a descriptor is supported on Linux only")
}

// permissionReason says why path cannot be read; the details (uid, owner,
// mode) are Linux's.
func permissionReason(path string) string { return "permission denied" }
