// Package fserr words file-system errors for messages that name the path
// already. It imports only the standard library, so that the slim injector
// (cmd/sealenv-inject) and the bundle reader (package seal) can use it
// without linking package fsutil's locks, journal and atomic writes.
package fserr

import (
	"errors"
	"io/fs"
)

// Reason drops the operation and path of an *fs.PathError ("open x.env: no
// such file or directory" becomes "no such file or directory"), for callers
// whose message names the path already. Other errors are returned as they
// are.
func Reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
