// Command sealenv-inject is the container entrypoint of sealenv: it decrypts
// sealed bundles into the environment, in memory only, and runs the command.
//
//	ENTRYPOINT ["/usr/local/bin/sealenv-inject", "--"]
//	CMD ["/app/server", "--port=8080"]
//
// It links the slim bundle reader only (age, the standard library, yaml.v3).
// Its flags and usage text are declared once, in package inject, and shared
// with `sealenv inject`; see docs/inject.md for flags, defaults and exit
// statuses.
//
// The injector runs for about a millisecond before it execs the command, so it
// skips the runtime's cgroup probing for GOMAXPROCS (a dozen file reads at
// start, and a goroutine that re-reads them).
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/keyenv"
	"github.com/sealenv/sealenv/internal/version"
	"github.com/sealenv/sealenv/seal"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		// The second line is the marker sealenv wrap looks for; printing it
		// keeps it in the binary.
		fmt.Fprintf(os.Stdout, "sealenv-inject %s\n%s", version.String(), version.ContractMarker())
		return 0
	}
	c := inject.Config{Prog: "sealenv-inject", Stderr: stderr}
	if err := c.ParseArgs("sealenv-inject", args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, inject.Usage("sealenv-inject"))
			return 0
		}
		errorf(stderr, "%v", err)
		fmt.Fprintf(stderr, "sealenv-inject: hint: see sealenv-inject -h\n")
		return inject.ExitCode(err)
	}
	if c.Supervise || c.Redact {
		// The injector stays as PID 1: take the key variables out of
		// /proc/1/environ and make it undumpable while it holds values
		// (exec mode replaces the process image instead).
		held, err := keyenv.Take(seal.IdentityEnvVars())
		c.Environ = held.Environ()
		if err != nil {
			errorf(stderr, "the identity variable stays readable in /proc/1/environ: %v", err)
			fmt.Fprintf(stderr, "sealenv-inject: hint: mount the identity as a file (--identity FILE) instead of passing it in the environment\n")
			return inject.ExitFailure
		}
	}
	code, err := inject.Run(c)
	if err != nil {
		errorf(stderr, "%v", err)
	}
	return code
}

// errorf prints one line, whatever the error text holds.
func errorf(w io.Writer, format string, args ...any) {
	msg := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	fmt.Fprintf(w, "sealenv-inject: error: %s\n", msg)
}
