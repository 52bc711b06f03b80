// Command sealenv-inject is the container entrypoint of sealenv: it decrypts
// sealed bundles into the environment, in memory only, and runs the command.
//
//	ENTRYPOINT ["/usr/local/bin/sealenv-inject", "--"]
//	CMD ["/app/server", "--port=8080"]
//
// It links the slim bundle reader only (age, the standard library, yaml.v3);
// see docs/inject.md for flags, defaults and exit statuses.
//
// The injector runs for about a millisecond before it execs the command, so it
// skips the runtime's cgroup probing for GOMAXPROCS (a dozen file reads at
// start, and a goroutine that re-reads them).
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sealenv/sealenv/inject"
)

const usage = `Usage: sealenv-inject [flags] -- CMD [ARGS...]

Decrypts sealed bundles into the environment of CMD, in memory only.

Flags:
  --bundle FILE              bundle to load; repeatable, merged in order
                             (default: $SEALENV_BUNDLE, colon-separated, else
                             /etc/sealenv/bundle.env or /etc/sealenv/bundle.yaml)
  --override KEY             let a later bundle redefine KEY; repeatable, "*" for all
  --identity FILE            age identity file
  --identity-fd N            read the age identity from file descriptor N
                             (default: $SEALENV_AGE_KEY, $SEALENV_AGE_KEY_FILE,
                             $SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE, then
                             /run/secrets/sealenv_age_key)
  --allow-env-override KEY   keep KEY from the environment over the sealed value
  --allow-name NAME          allow a bundle to set a dangerous name (PATH, LD_*, ...)
  --file NAME[=VAR]          deliver NAME as an in-memory file; set VAR
                             (default NAME_FILE) to /proc/self/fd/N
  --supervise                stay as the parent: forward signals, reap zombies
  --redact                   supervise, and replace sealed values in the
                             command's stdout and stderr with [REDACTED:NAME]
  --no-access-log            do not print the JSON access line on stderr
  --only KEY                 pass only KEY (repeatable; its KEY_PREVIOUS grace value
                             too); a KEY no bundle has is an error
  --allow-unauthenticated    accept empty or unencrypted values that SOPS does not
                             authenticate, in bundles sealenv did not write

Exit status: the command's; 125 when the injector fails (the command never
starts), 126 when CMD cannot be executed, 127 when CMD is not found, 128+N
when a supervised command is killed by signal N.
`

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sealenv-inject", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c inject.Config
	fs.Var((*list)(&c.Bundles), "bundle", "")
	fs.Var((*list)(&c.Override), "override", "")
	fs.StringVar(&c.Identity, "identity", "", "")
	fs.IntVar(&c.IdentityFD, "identity-fd", -1, "")
	fs.Var((*list)(&c.AllowEnvOverride), "allow-env-override", "")
	fs.Var((*list)(&c.AllowNames), "allow-name", "")
	fs.Var((*list)(&c.Files), "file", "")
	fs.BoolVar(&c.Supervise, "supervise", false, "")
	fs.BoolVar(&c.Redact, "redact", false, "")
	fs.BoolVar(&c.NoAccessLog, "no-access-log", false, "")
	fs.Var((*list)(&c.Only), "only", "")
	fs.BoolVar(&c.AllowUnauthenticated, "allow-unauthenticated", false, "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stderr, usage)
			return 0
		}
		errorf(stderr, "%v", err)
		fmt.Fprintf(stderr, "sealenv-inject: hint: see sealenv-inject -h\n")
		return inject.ExitFailure
	}
	c.Args = fs.Args()
	c.Prog = "sealenv-inject"
	c.Stderr = stderr
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
