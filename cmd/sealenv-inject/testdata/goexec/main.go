// Command goexec execs its arguments and does nothing else: the floor of
// any Go entrypoint's start (runtime start-up and one execve), against
// which BenchmarkStart shows what sealenv-inject itself adds.
package main

import (
	"os"
	"syscall"
)

func main() {
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Stderr.WriteString("goexec: " + err.Error() + "\n")
	os.Exit(127)
}
