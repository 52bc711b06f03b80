//go:build linux

package inject

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadFDDeadline: a descriptor whose writer keeps it open without
// writing (a real FIFO here) ends in a timeout error, not a hang, and its
// file status flags are what they were.
func TestReadFDDeadline(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "id.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // held open, never written
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The reader as the injector inherits it: blocking.
	if err := unix.SetNonblock(r, false); err != nil {
		t.Fatal(err)
	}
	before, _ := unix.FcntlInt(uintptr(r), unix.F_GETFL, 0)
	dup, err := unix.Dup(r) // to look at the flags after readFD closed r
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)

	defer func(d time.Duration) { readDeadline = d }(readDeadline)
	readDeadline = 300 * time.Millisecond
	start := time.Now()
	data, err := readFD(r, maxIdentity)
	if !errors.Is(err, errTimeout) || data != nil {
		t.Fatalf("readFD = %d bytes, %v; want a timeout", len(data), err)
	}
	if took := time.Since(start); took > 10*readDeadline {
		t.Errorf("gave up after %v, deadline %v", took, readDeadline)
	}
	if after, _ := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0); after != before {
		t.Errorf("file status flags %#x after the read, %#x before", after, before)
	}
	if _, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0); err == nil {
		t.Errorf("the descriptor is still open; the command would inherit it")
	}
}

// TestReadRegularRefusesAtOnce: a FIFO with no writer is refused without
// waiting for the deadline.
func TestReadRegularRefusesAtOnce(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "b.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := readRegular(fifo, maxBundleFile)
	if err == nil || !strings.Contains(err.Error(), "not a regular file (a FIFO)") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > readDeadline/2 {
		t.Errorf("took %v: the refusal waited for the deadline", took)
	}
}

func TestWithDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	_, err := withDeadline(50*time.Millisecond, func() ([]byte, error) {
		<-release
		return []byte("late"), nil
	})
	if !errors.Is(err, errTimeout) {
		t.Errorf("err = %v, want a timeout", err)
	}
	data, err := withDeadline(time.Second, func() ([]byte, error) { return []byte("ok"), nil })
	if err != nil || string(data) != "ok" {
		t.Errorf("= %q, %v", data, err)
	}
}

func TestCheckExecSize(t *testing.T) {
	t.Parallel()
	c := &Config{Describe: describeFlag}
	sealed := map[string]bool{"BIG": true, "SMALL": true}
	big := "BIG=" + strings.Repeat("x", 200)
	for _, tc := range []struct {
		name      string
		argv, env []string
		total     int
		want      string // "" means it fits
	}{
		{"fits", []string{"app"}, []string{"PATH=/bin", "SMALL=x"}, 1 << 20, ""},
		{"sealed value over the per-string limit", []string{"app"}, []string{"PATH=/bin", big}, 1 << 20, "key BIG: its environment entry is 205 bytes, over the kernel's limit of 128 bytes for one environment string (MAX_ARG_STRLEN); pass --file BIG"},
		{"runtime variable over the limit", []string{"app"}, []string{"HUGE=" + strings.Repeat("y", 200)}, 1 << 20, "the environment variable HUGE is 206 bytes, over the kernel's limit of 128 bytes"},
		{"argument over the limit", []string{"app", strings.Repeat("z", 200)}, nil, 1 << 20, "argument 1 is 201 bytes"},
		{"total over the limit", []string{"app"}, []string{"SMALL=" + strings.Repeat("s", 100), "OTHER=" + strings.Repeat("o", 100)}, os.Getpagesize() + 150, "over the kernel's limit of 150 bytes (a quarter of the stack limit, at most 6 MiB); the largest sealed value is key SMALL (107 bytes): pass --file SMALL"},
	} {
		err := c.checkExecSize("/bin/app", tc.argv, tc.env, sealed, 128, tc.total)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || ExitCode(err) != ExitFailure):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestExecLimits(t *testing.T) {
	t.Parallel()
	perString, total := execLimits()
	if want := 32 * os.Getpagesize(); perString != want {
		t.Errorf("per-string limit %d, want %d", perString, want)
	}
	if total < perString || total > 6<<20 {
		t.Errorf("total limit %d outside [%d, 6 MiB]", total, perString)
	}
}
