// Package lazyregexp compiles a package-level regular expression on its
// first use instead of at init.
//
// Go runs the init of every package a binary links before main, whichever
// command is asked for: an expression compiled at init costs every sealenv
// run, also one (a re-audit from the verdict cache, a command that audits
// nothing) that never uses it.
package lazyregexp

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call and returns
// the same [regexp.Regexp] to every call, from any goroutine. expr is a
// constant of the caller's package: a mistake in it panics on first use,
// which that package's tests reach.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
