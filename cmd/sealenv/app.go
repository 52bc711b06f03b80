package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/seal"
)

// Exit statuses of sealenv. Commands return errors; only run maps them.
const (
	exitOK       = 0
	exitFindings = 1 // audit found something, check found violations
	exitError    = 2 // bad input, I/O error, wrong key, incomplete work
)

// exitErr carries an exit status other than exitError.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// withCode wraps err so that run exits with code.
func withCode(code int, err error) error { return &exitErr{code: code, err: err} }

// env is what commands may touch of the outside world, so tests can run
// the CLI in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
	now            func() time.Time
}

func newApp(e *env) *cli.App {
	cli.VersionPrinter = printVersion
	app := &cli.App{
		Name:                 "sealenv",
		Usage:                "sealed secrets for container images",
		Version:              version,
		Reader:               e.stdin,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		HideHelpCommand:      true, // ours is helpCommand
		Flags:                []cli.Flag{cli.HelpFlag},
		EnableBashCompletion: false,                        // sealenv completion writes static scripts
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit codes
		Commands:             commands(e),
		Action:               noCommand("sealenv"),
		OnUsageError:         usageError,
		// A repeatable flag takes each value whole: urfave/cli would
		// split "--build-arg NO_PROXY=a,b" into two values.
		DisableSliceFlagSeparator: true,
	}
	setUsageErrors("sealenv", app.Commands)
	return app
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.LookupEnv, now: time.Now}
	return runEnv(ctx, e, args)
}

func runEnv(ctx context.Context, e *env, args []string) int {
	app := newApp(e)
	err := app.RunContext(ctx, permuteArgs(app, args))
	if err == nil {
		return exitOK
	}
	code := exitError
	var ee *exitErr
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) && ee == nil {
		code = ce.ExitCode()
	}
	msg := strings.TrimSpace(err.Error())
	var intr interrupted
	if errors.As(err, &intr) {
		code = 128 + int(intr.sig) // a command that saw the signal itself (edit)
	} else if i, ok := context.Cause(ctx).(interrupted); ok {
		if errors.Is(err, context.Canceled) || strings.HasSuffix(msg, "context canceled") {
			msg = i.Error() // what was cut short says only "context canceled"
		} else {
			msg += " (" + i.Error() + ")"
		}
	}
	if msg != "" {
		fmt.Fprintf(e.stderr, "sealenv: error: %s\n", redactArgs(oneLine(msg), args))
	}
	return code
}

// redactArgs replaces, in an error message, every command-line argument
// that could be a secret value with "[argument N]": a value typed where a
// key name, a path or a flag belongs must not come back on the terminal, in
// a CI log or in a shell's scrollback. An argument stays when it is short,
// a flag, an environment variable name (a key), a file that exists, a path
// (only path characters, with a / or a file extension), or a public key.
func redactArgs(msg string, args []string) string {
	type arg struct {
		text string
		n    int
	}
	var unsafe []arg
	for i, a := range args {
		if i == 0 {
			continue
		}
		if strings.HasPrefix(a, "-") {
			name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !ok {
				if !flagName.MatchString(name) {
					unsafe = append(unsafe, arg{a, i})
					unsafe = append(unsafe, arg{strings.TrimLeft(a, "-"), i})
				}
				continue
			}
			a = value
		}
		if !safeArg(a) {
			unsafe = append(unsafe, arg{a, i})
		}
	}
	// Longest first, so that one argument inside another goes as a whole.
	sort.Slice(unsafe, func(i, j int) bool { return len(unsafe[i].text) > len(unsafe[j].text) })
	for _, a := range unsafe {
		if len(a.text) < 4 {
			continue
		}
		msg = strings.ReplaceAll(msg, a.text, fmt.Sprintf("[argument %d]", a.n))
		if len(a.text) > 60 {
			msg = strings.ReplaceAll(msg, a.text[:60], fmt.Sprintf("[argument %d]", a.n))
		}
	}
	return msg
}

var (
	flagName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	pathLike = regexp.MustCompile(`^[A-Za-z0-9._/~-]+$`)
	fileExt  = regexp.MustCompile(`\.(env|ya?ml|json|txt|tar|sarif|pem|pub|key|gz|zst|lock|sh|md)$`)
	pubKey   = regexp.MustCompile(`^(age1[a-z0-9]+|ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( .*)?)$`)
)

func safeArg(a string) bool {
	if len(a) < 4 || seal.ValidName(a) || pubKey.MatchString(a) {
		return true
	}
	if _, err := os.Lstat(a); err == nil {
		return true
	}
	return pathLike.MatchString(a) && (strings.Contains(a, "/") || fileExt.MatchString(a))
}

// oneLine folds an error to a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
