//go:build unix

package audit

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByMe reports whether fi is owned by the user running the audit:
// a cache key someone else put in a shared directory is not trusted.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
