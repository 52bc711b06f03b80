package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/testutil/injecttest"
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
	t.Parallel()
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
	t.Parallel()
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

// TestLargeValueFailsBeforeExec: a 200 KB value is over the kernel's limit
// for one environment string; the injector says so, with exit 125, the key
// and the limit, instead of execve failing with 126 "argument list too
// long" after a logged start. As an in-memory file it goes through.
func TestLargeValueFailsBeforeExec(t *testing.T) {
	t.Parallel()
	k := injecttest.NewKey(t)
	big := strings.Repeat(injecttest.Value(t, "b-"), 200_000/26+1)[:200_000]
	b := injecttest.Write(t, t.TempDir(), "big.env", []injecttest.Key{k}, injecttest.Entry{Name: "BIG", Value: big})
	key := seal.EnvAgeKey + "=" + k.Text
	limit := strconv.Itoa(32 * os.Getpagesize())
	for _, mode := range [][]string{nil, {"--supervise"}} {
		r := runInject(t, env(key), append([]string{"--bundle", b}, mode...), "report")
		e := errorLine(t, r.stderr)
		if r.code != inject.ExitFailure || r.stdout != "" || !strings.Contains(e, "key BIG") || !strings.Contains(e, limit) || !strings.Contains(e, "--file BIG") {
			t.Errorf("%v: exit %d, error %q; want %d naming BIG, the limit %s and --file", mode, r.code, e, inject.ExitFailure, limit)
		}
		if strings.Contains(r.stderr, "{") {
			t.Errorf("%v: an access line was written for a start that failed", mode)
		}
		noValues(t, "stderr", r.stderr, map[string]string{"BIG": big[:64]})
	}
	r := runInject(t, env(key), []string{"--bundle", b, "--file", "BIG", "--no-access-log"}, "report")
	if r.code != 0 {
		t.Fatalf("--file BIG: exit %d: %s", r.code, r.stderr)
	}
	sum := sha256.Sum256([]byte(big))
	if got := parseReport(t, r.stdout).Files["BIG_FILE"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("BIG_FILE holds %s, not the value", got)
	}
}

// TestEnvironmentOverTheTotalLimit: values that each fit but together pass
// the kernel's total (a quarter of the stack limit: 256 KiB under ulimit -s
// 1024) fail the same way, naming the largest sealed key.
func TestEnvironmentOverTheTotalLimit(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	k := injecttest.NewKey(t)
	var entries []injecttest.Entry
	for i, n := range []int{90_000, 100_000, 80_000} {
		entries = append(entries, injecttest.Entry{Name: "PART_" + strconv.Itoa(i), Value: strings.Repeat("p", n)})
	}
	b := injecttest.Write(t, t.TempDir(), "parts.env", []injecttest.Key{k}, entries...)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, "-c", `ulimit -s 1024 && exec "$@"`, "sh", self(t), "-sealenv-inject", "--bundle", b, "--", self(t), "-sealenv-helper", "exit", "0")
	cmd.Env = env(seal.EnvAgeKey + "=" + k.Text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != inject.ExitFailure {
		t.Fatalf("got %v, want exit %d; stderr %q", err, inject.ExitFailure, stderr.String())
	}
	if e := errorLine(t, stderr.String()); !strings.Contains(e, "the largest sealed value is key PART_1") || !strings.Contains(e, "--file PART_1") {
		t.Errorf("error %q does not name the largest key and --file", e)
	}
}
