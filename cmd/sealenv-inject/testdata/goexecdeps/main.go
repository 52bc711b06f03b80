// Command goexecdeps execs its arguments as goexec does, in a binary that
// links the injector's library packages: their dependencies (age, yaml.v3,
// the crypto packages, regexp and unicode through them) are initialised at
// start, as in sealenv-inject, but nothing else of the injector runs. Its
// start against goexec's is what those dependencies cost; sealenv-inject's
// against its own is what the injector's work costs.
package main

import (
	"os"
	"syscall"

	_ "github.com/sealenv/sealenv/inject"
	_ "github.com/sealenv/sealenv/internal/keyenv"
	_ "github.com/sealenv/sealenv/seal"
)

func main() {
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Stderr.WriteString("goexecdeps: " + err.Error() + "\n")
	os.Exit(127)
}
