package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/keyenv"
)

// Exit statuses of sealenv. Commands return errors; only runEnv maps them.
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
	// environ is the environment with the key variables main took out of
	// the process (see internal/keyenv), for sealenv inject; nil:
	// os.Environ.
	environ func() []string
	now     func() time.Time
	// echo decides which arguments an error may show (see echo.go).
	echo *echo
}

// versionPrinter sets urfave/cli's global version printer once: tests
// build apps in parallel.
var versionPrinter sync.Once

func newApp(e *env) *cli.App {
	versionPrinter.Do(func() { cli.VersionPrinter = printVersion })
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
		ExitErrHandler:       func(*cli.Context, error) {}, // runEnv maps errors to exit codes
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

// runHeld runs sealenv for main: the key variables (the identity, the signing
// key) are read from held, which took them out of the process's
// environment, so no command sealenv starts inherits them; a nil held reads
// the environment as it is.
func runHeld(ctx context.Context, held *keyenv.Held, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: held.Lookup, environ: held.Environ, now: time.Now}
	return runEnv(ctx, e, args)
}

func runEnv(ctx context.Context, e *env, args []string) int {
	app := newApp(e)
	if e.echo == nil {
		e.echo = newEcho(args, app.Commands)
	}
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
		fmt.Fprintf(e.stderr, "sealenv: error: %s\n", e.redact(oneLine(msg)))
	}
	return code
}

// oneLine folds an error to a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
