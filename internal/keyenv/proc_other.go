//go:build !linux

package keyenv

// protect has nothing to rewrite where the environment block is not
// exposed as on Linux; the variables are gone from the Go environment.
func protect([]string) error { return nil }

// Visible returns nothing where no /proc/self/environ exists.
func Visible([]string) ([]string, error) { return nil, nil }
