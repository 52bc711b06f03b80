// Command sealenv seals secrets for container images: it writes age-encrypted
// SOPS bundles, injects them at runtime, and audits images for plaintext.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sealenv/sealenv/internal/keyenv"
	"github.com/sealenv/sealenv/seal"
)

// interrupted is the cause of the command's context when a signal stopped
// it; the command then exits 128+N, as a shell reports a process a signal
// ended.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return fmt.Sprintf("interrupted by %v", i.sig) }

func main() {
	// The identity and signing key variables are read once, into memory,
	// and leave the environment (Go's and /proc/self/environ) before any
	// command runs: nothing sealenv starts, a policy's generator command
	// included, inherits them or reads them from /proc/PPID. A failure to
	// rewrite /proc/self/environ is caught where it matters: a generator
	// command is refused while the block still shows a key.
	held, _ := keyenv.Take(seal.IdentityEnvVars())
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		signal.Stop(sigs) // a second signal takes its default action
		sig, _ := s.(syscall.Signal)
		cancel(interrupted{sig})
	}()
	code := runHeld(ctx, held, os.Args, os.Stdin, os.Stdout, os.Stderr)
	// A command the signal cut short exits 128+N; one that handled it (the
	// injector forwards it and exits as its command did) keeps its status.
	if i, ok := context.Cause(ctx).(interrupted); ok && code == exitError {
		code = 128 + int(i.sig)
	}
	os.Exit(code)
}
