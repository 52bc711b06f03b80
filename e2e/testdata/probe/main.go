// Command probe is the static program the e2e images carry: FROM scratch has
// no shell, so every RUN step and every container command in the smoke tests
// is this binary. Each subcommand does one observable thing.
//
//	probe env                   print the environment, sorted, one NAME=value a line
//	probe cat FILE...           copy files to stdout
//	probe write FILE TEXT       write TEXT to FILE (creating parent folders)
//	probe rm FILE...            remove files (a later layer deleting an earlier one's file)
//	probe sha256 FILE           print the hex SHA-256 of FILE
//	probe hash-env NAME FILE    write the hex SHA-256 of $NAME to FILE (a build secret, kept as a hash)
//	probe hash-file SRC FILE    write the hex SHA-256 of SRC to FILE
//	probe save-env NAME FILE    write $NAME itself to FILE (a build secret leaked into a layer)
//	probe sleep SECONDS         sleep
//	probe exit N                exit with status N
//	probe wait-signal N         print "ready", wait for SIGTERM or SIGINT, exit N
//	probe ignore-signals        print "ready", ignore SIGTERM and SIGINT, sleep forever
//	probe agent-keys            print the SHA256 fingerprint of every key of the SSH agent at $SSH_AUTH_SOCK
//
// It is built with CGO_ENABLED=0 by the e2e harness; nothing here is shipped.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe env|cat|write|rm|sha256|hash-env|hash-file|save-env|sleep|exit|wait-signal|ignore-signals|agent-keys ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "env":
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Println(kv)
		}
	case "cat":
		for _, name := range args {
			f, err := os.Open(name)
			if err != nil {
				fail(err.Error())
			}
			_, err = io.Copy(os.Stdout, f)
			f.Close()
			if err != nil {
				fail(err.Error())
			}
		}
	case "write":
		need(args, 2)
		if err := os.MkdirAll(filepath.Dir(args[0]), 0o755); err != nil {
			fail(err.Error())
		}
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fail(err.Error())
		}
	case "rm":
		for _, name := range args {
			if err := os.Remove(name); err != nil {
				fail(err.Error())
			}
		}
	case "sha256":
		need(args, 1)
		b, err := os.ReadFile(args[0])
		if err != nil {
			fail(err.Error())
		}
		sum := sha256.Sum256(b)
		fmt.Println(hex.EncodeToString(sum[:]))
	case "hash-env", "hash-file", "save-env":
		need(args, 2)
		var v []byte
		if os.Args[1] == "hash-file" {
			b, err := os.ReadFile(args[0])
			if err != nil {
				fail(err.Error())
			}
			v = b
		} else {
			s, ok := os.LookupEnv(args[0])
			if !ok {
				fail(args[0] + " is not set")
			}
			v = []byte(s)
		}
		if os.Args[1] != "save-env" {
			sum := sha256.Sum256(v)
			v = []byte(hex.EncodeToString(sum[:]))
		}
		if err := os.MkdirAll(filepath.Dir(args[1]), 0o755); err != nil {
			fail(err.Error())
		}
		if err := os.WriteFile(args[1], v, 0o644); err != nil {
			fail(err.Error())
		}
		// In a build's progress, this line tells a step that ran from one
		// BuildKit took from its cache (CACHED, or layers pulled from an
		// imported cache).
		fmt.Fprintln(os.Stderr, "probe: ran "+os.Args[1])
	case "sleep":
		need(args, 1)
		n, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			fail("bad duration " + strconv.Quote(args[0]))
		}
		time.Sleep(time.Duration(n * float64(time.Second)))
	case "exit":
		need(args, 1)
		os.Exit(code(args[0]))
	case "wait-signal":
		need(args, 1)
		n := code(args[0])
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		s := <-ch
		fmt.Fprintf(os.Stderr, "probe: got %v, exiting %d\n", s, n)
		os.Exit(n)
	case "agent-keys":
		conn, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
		if err != nil {
			fail("agent-keys: " + err.Error())
		}
		keys, err := agent.NewClient(conn).List()
		conn.Close()
		if err != nil {
			fail("agent-keys: " + err.Error())
		}
		for _, k := range keys {
			pk, err := ssh.ParsePublicKey(k.Blob)
			if err != nil {
				fail("agent-keys: " + err.Error())
			}
			fmt.Println(ssh.FingerprintSHA256(pk))
		}
	case "ignore-signals":
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		for { // not select{}: with no other goroutine, the runtime calls that a deadlock
			time.Sleep(time.Hour)
		}
	default:
		fail("unknown subcommand " + strconv.Quote(os.Args[1]))
	}
}

func need(args []string, n int) {
	if len(args) != n {
		fail(fmt.Sprintf("%s wants %d argument(s), got %d", os.Args[1], n, len(args)))
	}
}

func code(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		fail("bad exit status " + strconv.Quote(s))
	}
	return n
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "probe: "+msg)
	os.Exit(2)
}
