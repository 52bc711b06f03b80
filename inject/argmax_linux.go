//go:build linux

package inject

import (
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// execLimits returns the kernel's limits on what execve copies: the length
// of one argument or environment string, NUL included (MAX_ARG_STRLEN, 32
// pages: 128 KiB with 4 KiB pages), and the total of all strings and their
// pointers (a quarter of the stack limit, at most 6 MiB and at least 32
// pages; see bprm_stack_limits in the kernel's fs/exec.c).
func execLimits() (perString, total int) {
	page := os.Getpagesize()
	perString = 32 * page
	const stkLim = 8 << 20 // _STK_LIM
	total = stkLim / 4 * 3
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &rl); err == nil && rl.Cur != unix.RLIM_INFINITY && rl.Cur/4 < uint64(total) {
		total = int(rl.Cur / 4)
	}
	return perString, max(total, 32*page)
}

// checkExecSize fails, before execve does, when the command's arguments and
// environment do not fit the kernel's limits: execve would fail with E2BIG
// ("argument list too long", exit 126) after the injector had logged a
// start. sealed names the variables the injector sets, so that the error
// names the key to deliver as a file instead.
func (c *Config) checkExecSize(path string, argv, env []string, sealed map[string]bool, perString, total int) error {
	tooLong := func(what string, n int) error {
		return fail(ExitFailure, "%s is %d bytes, over the kernel's limit of %d bytes for one argument or environment string (MAX_ARG_STRLEN)", what, n, perString)
	}
	used := len(path) + 1 + (max(len(argv), 1)+len(env))*int(unsafe.Sizeof(uintptr(0)))
	largest, largestSize := "", 0
	for i, a := range argv {
		if len(a)+1 > perString {
			return tooLong("argument "+strconv.Itoa(i), len(a)+1)
		}
		used += len(a) + 1
	}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		n := len(kv) + 1
		if n > perString {
			if sealed[name] {
				return fail(ExitFailure, "key %s: its environment entry is %d bytes, over the kernel's limit of %d bytes for one environment string (MAX_ARG_STRLEN); pass %s: an in-memory file has no such limit", name, n, perString, c.mention(SettingFiles, name))
			}
			return tooLong("the environment variable "+name, n)
		}
		if sealed[name] && n > largestSize {
			largest, largestSize = name, n
		}
		used += n
	}
	// A page of margin: the kernel also keeps a pointer or two of the stack
	// for itself, and a start refused here is better than one that fails
	// in execve after the access line.
	if limit := total - os.Getpagesize(); used > limit {
		msg := "the command's arguments and environment take %d bytes, over the kernel's limit of %d bytes (a quarter of the stack limit, at most 6 MiB)"
		if largest == "" {
			return fail(ExitFailure, msg, used, limit)
		}
		return fail(ExitFailure, msg+"; the largest sealed value is key %s (%d bytes): pass %s, an in-memory file has no such limit", used, limit, largest, largestSize, c.mention(SettingFiles, largest))
	}
	return nil
}
