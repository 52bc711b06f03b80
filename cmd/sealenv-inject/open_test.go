package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/seal"
)

// quick bounds the tests of files that must be refused at once: well under
// the injector's own 10 s read deadline, so a refusal that only came from
// the deadline fails the test.
const quick = 5 * time.Second

func runQuick(t *testing.T, environ, flags []string, stdin *os.File, extra []*os.File, role string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), quick)
	defer cancel()
	cmd := injectCmd(t, ctx, environ, flags, role)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.ExtraFiles = extra
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the injector blocked (killed after %v); stderr %q", quick, stderr.String())
	}
	code := 0
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// TestSpecialFilesAreRefused: an identity or bundle path that is a FIFO
// (which blocked forever on open), a device or a directory is refused at
// once with the file's kind; nothing is read from it.
func TestSpecialFilesAreRefused(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	key := seal.EnvAgeKey + "=" + f.key.Text
	for _, tc := range []struct {
		name    string
		environ []string
		flags   []string
		want    string
	}{
		{"--identity FIFO", env(), []string{"--bundle", f.bundle, "--identity", fifo}, "identity from --identity " + fifo + ": not a regular file (a FIFO)"},
		{"SEALENV_AGE_KEY_FILE FIFO", env(seal.EnvAgeKeyFile + "=" + fifo), []string{"--bundle", f.bundle}, "not a regular file (a FIFO)"},
		{"SOPS_AGE_KEY_FILE FIFO", env(seal.EnvSopsAgeKeyFile + "=" + fifo), []string{"--bundle", f.bundle}, "not a regular file (a FIFO)"},
		{"--bundle FIFO", env(key), []string{"--bundle", fifo}, fifo + ": not a regular file (a FIFO)"},
		{"--bundle device", env(key), []string{"--bundle", "/dev/zero"}, "/dev/zero: not a regular file (a character device)"},
		{"--identity directory", env(), []string{"--bundle", f.bundle, "--identity", dir}, "not a regular file (a directory)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runQuick(t, tc.environ, tc.flags, nil, nil, "exit")
			if r.code != inject.ExitFailure || !strings.Contains(errorLine(t, r.stderr), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, inject.ExitFailure, tc.want)
			}
		})
	}
}

// TestIdentityFD: --identity-fd reads a descriptor, says "bad file
// descriptor" for one that is negative or not open, refuses the output
// streams, and on fd 0 leaves the command a stdin it can read (/dev/null),
// never the key.
func TestIdentityFD(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		fd   string
		want string
	}{
		{"negative", "-1", "--identity-fd -1: bad file descriptor"},
		{"not open", "9", "--identity-fd 9: bad file descriptor"},
		{"stdout", "1", "--identity-fd 1: standard output and standard error belong to the command"},
		{"not a number", "three", "invalid value for --identity-fd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runQuick(t, env(), []string{"--bundle", f.bundle, "--identity-fd", tc.fd}, nil, nil, "exit")
			e := errorLine(t, r.stderr)
			if r.code != inject.ExitFailure || !strings.Contains(e, tc.want) || strings.Contains(e, "no identity") {
				t.Errorf("exit %d, error %q; want %d and %q", r.code, e, inject.ExitFailure, tc.want)
			}
		})
	}

	// fd 0: the key on stdin, as a pipe and as a regular file (which the
	// command could otherwise rewind and read).
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(f.key.Text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range [][]string{nil, {"--supervise"}} {
		for _, kind := range []string{"pipe", "file"} {
			t.Run("fd 0 "+kind+" "+strings.Join(mode, ""), func(t *testing.T) {
				var stdin *os.File
				if kind == "file" {
					kf, err := os.Open(keyFile)
					if err != nil {
						t.Fatal(err)
					}
					defer kf.Close()
					stdin = kf
				} else {
					pr, pw, err := os.Pipe()
					if err != nil {
						t.Fatal(err)
					}
					defer pr.Close()
					pw.WriteString(f.key.Text + "\n")
					pw.Close()
					stdin = pr
				}
				r := runQuick(t, env(), append([]string{"--bundle", f.bundle, "--identity-fd", "0", "--no-access-log"}, mode...), stdin, nil, "stdin")
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if got := strings.TrimSpace(r.stdout); got != "/dev/null 0 <nil>" {
					t.Errorf("the command's stdin: %q, want /dev/null, read to its end without error", got)
				}
			})
		}
	}
}
