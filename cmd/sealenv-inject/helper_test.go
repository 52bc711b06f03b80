package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The test binary plays three parts, chosen by its first argument:
//
//	-sealenv-inject ARGS...   the injector itself (main's run)
//	-sealenv-helper ROLE ...  a child program the injector starts
//	anything else             the tests
//
// so every test runs real processes: a real exec, real signals, real pipes.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-sealenv-inject":
			os.Exit(run(os.Args[2:], os.Stderr))
		case "-sealenv-helper":
			os.Exit(helper(os.Args[2], os.Args[3:]))
		}
	}
	os.Exit(m.Run())
}

// report is what the "report" helper prints: its environment as it is in
// /proc/self/environ, its open descriptors, and the files named by *_FILE
// variables (as digests).
type report struct {
	Pid     int               `json:"pid"`
	Environ []string          `json:"environ"`
	FDs     map[int]string    `json:"fds"`   // descriptor → what it points to
	Files   map[string]string `json:"files"` // VAR → sha256 of the file content
	Sealed  map[string]bool   `json:"sealed"`
}

func helper(role string, args []string) int {
	switch role {
	case "exit":
		n, _ := strconv.Atoi(args[0])
		return n
	case "report":
		return helperReport()
	case "stdin":
		// Report what stdin is and how many bytes it holds.
		target, _ := os.Readlink("/proc/self/fd/0")
		n, err := io.Copy(io.Discard, os.Stdin)
		fmt.Printf("%s %d %v\n", target, n, err)
		return 0
	case "wait":
		// Say we are running, then wait for stdin to close.
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "signals":
		// Print the name of each signal received; exit after SIGTERM.
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
		fmt.Println("ready")
		for s := range ch {
			fmt.Println(s.(syscall.Signal).String())
			if s == syscall.SIGTERM {
				return 0
			}
		}
	case "sleep":
		fmt.Println("ready")
		select {}
	case "killself":
		n, _ := strconv.Atoi(args[0])
		syscall.Kill(os.Getpid(), syscall.Signal(n))
		select {}
	case "orphan":
		// Start a grandchild that exits at once, print its pid, and exit
		// without waiting for it: the grandchild becomes an orphan.
		self, _ := os.Executable()
		cmd := exec.Command(self, "-sealenv-helper", "exit", "0")
		if err := cmd.Start(); err != nil {
			return 2
		}
		fmt.Println(cmd.Process.Pid)
		return 0
	case "zombie":
		return helperZombie()
	case "drip":
		// Write the values of the named variables one byte per write, to
		// stdout and to stderr, then a prompt without a newline, and wait.
		for _, out := range []*os.File{os.Stdout, os.Stderr} {
			for _, name := range args {
				v := os.Getenv(name)
				out.Write([]byte("value of " + name + ": "))
				for i := 0; i < len(v); i++ {
					out.Write([]byte{v[i]})
				}
				out.Write([]byte("\n"))
			}
		}
		os.Stdout.Write([]byte("prompt> "))
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	return 99
}

func helperReport() int {
	r := report{Pid: os.Getpid(), FDs: map[int]string{}, Files: map[string]string{}, Sealed: map[string]bool{}}
	env, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		return 98
	}
	for _, kv := range bytes.Split(bytes.TrimSuffix(env, []byte{0}), []byte{0}) {
		r.Environ = append(r.Environ, string(kv))
		k, v, _ := strings.Cut(string(kv), "=")
		if strings.HasSuffix(k, "_FILE") {
			data, err := os.ReadFile(v)
			if err != nil {
				r.Files[k] = "error: " + err.Error()
				continue
			}
			sum := sha256.Sum256(data)
			r.Files[k] = hex.EncodeToString(sum[:])
			// The file must be read-only: sealed against writes.
			if f, err := os.OpenFile(v, os.O_WRONLY, 0); err == nil {
				_, werr := f.Write([]byte("x"))
				r.Sealed[k] = werr != nil
				f.Close()
			} else {
				r.Sealed[k] = true
			}
		}
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the descriptor ReadDir itself used
		}
		r.FDs[n] = target
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// helperZombie makes an orphan grandchild that exits, then reports whether
// it was reaped: "reaped" when /proc/PID disappears, "zombie" if it is still
// there after a million checks.
func helperZombie() int {
	self, _ := os.Executable()
	cmd := exec.Command(self, "-sealenv-helper", "orphan")
	out, err := cmd.Output()
	if err != nil {
		return 2
	}
	pid := strings.TrimSpace(string(out))
	// The grandchild now belongs to the injector (a subreaper). Once it is
	// reaped, /proc/PID is gone; a zombie keeps it. The bound is a count of
	// checks, not a time.
	for range 1000000 {
		if _, err := os.Stat("/proc/" + pid); err != nil {
			fmt.Println("reaped")
			return 0
		}
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
	}
	fmt.Println("zombie")
	return 0
}

// readLine reads one line or fails the test.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's output: %v (got %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}
