package keyenv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

const (
	prGetDumpable = 3 // PR_GET_DUMPABLE from <linux/prctl.h>
	prSetDumpable = 4 // PR_SET_DUMPABLE
)

// protect rewrites the original environment block without names, checks
// that /proc/self/environ no longer shows them, and makes the process not
// dumpable.
func protect(names []string) error {
	errScrub := scrub(names)
	if errScrub == nil {
		errScrub = checkGone(names)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); e != 0 {
		return errors.Join(errScrub, fmt.Errorf("marking the process not dumpable: %v", e))
	}
	return errScrub
}

// scrub rewrites the bytes between env_start and env_end (fields 50 and 51
// of /proc/self/stat) through /proc/self/mem: the entries of names are
// zeroed where they are, the others left at their offsets.
func scrub(names []string) error {
	start, end, err := envBounds()
	if err != nil {
		return err
	}
	if end <= start || end-start > 1<<30 {
		return fmt.Errorf("reading the environment block: bounds %#x-%#x make no sense", start, end)
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("rewriting the environment block: %v", err)
	}
	defer mem.Close()
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, int64(start)); err != nil {
		return fmt.Errorf("reading the environment block: %v", err)
	}
	// Each entry of names is zeroed where it is: the others stay at their
	// offsets, where C's environ (in a cgo build) still points.
	changed := false
	for off := 0; off < len(block); {
		n := bytes.IndexByte(block[off:], 0)
		if n < 0 {
			n = len(block) - off
		}
		name, _, _ := bytes.Cut(block[off:off+n], []byte("="))
		if n > 0 && slices.Contains(names, string(name)) {
			clear(block[off : off+n])
			changed = true
		}
		off += n + 1
	}
	if !changed {
		return nil
	}
	if _, err := mem.WriteAt(block, int64(start)); err != nil {
		return fmt.Errorf("rewriting the environment block: %v", err)
	}
	return nil
}

// envBounds reads env_start and env_end from /proc/self/stat.
func envBounds() (start, end uint64, err error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("finding the environment block: %v", err)
	}
	// Field 2, the command name, may hold spaces and parentheses; the
	// fields after it start past the last ')'. Field 3 is rest[0].
	i := bytes.LastIndexByte(stat, ')')
	rest := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(rest) < 49 {
		return 0, 0, errors.New("finding the environment block: /proc/self/stat has no env_start and env_end (Linux before 3.5?)")
	}
	if start, err = strconv.ParseUint(rest[47], 10, 64); err == nil {
		end, err = strconv.ParseUint(rest[48], 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("finding the environment block: %v", err)
	}
	return start, end, nil
}

// checkGone reads /proc/self/environ back, as another process would.
func checkGone(names []string) error {
	still, err := Visible(names)
	if err != nil {
		return err
	}
	if len(still) > 0 {
		return fmt.Errorf("/proc/self/environ still shows %s after rewriting it", strings.Join(still, ", "))
	}
	return nil
}

// Visible returns the names of names that /proc/self/environ shows: what a
// process allowed to read it would find there. A process that is not
// dumpable (after [Take]) cannot read its own file unless it runs as root,
// and no other process of its user can either: Visible returns none then.
func Visible(names []string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/environ")
	if errors.Is(err, fs.ErrPermission) {
		// Refused because the process is not dumpable: then nobody else of
		// its user can read it either. Refused for another reason: not
		// proven, an error.
		if d, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prGetDumpable, 0, 0); e == 0 && d == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("reading /proc/self/environ: %v, and the process is dumpable", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/environ: %v", err)
	}
	var out []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		name, _, _ := bytes.Cut(kv, []byte("="))
		if slices.Contains(names, string(name)) && !slices.Contains(out, string(name)) {
			out = append(out, string(name))
		}
	}
	return out, nil
}
