//go:build !linux

package inject

import "errors"

// Run is available on Linux only: the injector is a container entrypoint,
// and memfd files, PR_SET_DUMPABLE and child subreapers are Linux features.
func Run(c Config) (int, error) {
	c.defaults()
	err := &Error{Code: ExitFailure, Err: errors.New("sealenv inject runs on Linux only (it is a container entrypoint)")}
	return ExitFailure, err
}
