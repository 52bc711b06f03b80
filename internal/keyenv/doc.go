// Package keyenv takes key variables (an age identity, a signing key) out of
// the process's environment once they have been read, so that no command
// the process starts, and no other process of the same user, finds them
// there.
//
// [Take] reads the named variables into memory, removes them from the Go
// environment (so os.Environ, and every command started from it, no longer
// has them), and on Linux rewrites the process's original environment block,
// the bytes /proc/PID/environ shows, without them. While it holds a key it
// marks the process as not dumpable (prctl PR_SET_DUMPABLE 0): a process of
// the same user can then no longer open /proc/PID/environ, /proc/PID/mem or
// attach with ptrace. Root, and a process that already traces an ancestor,
// still can; that is outside what this package can change.
//
// It links only the standard library: the injector uses it.
package keyenv
