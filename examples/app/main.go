// Command app is the example service of the demo and the end-to-end tests.
// It reports which of the named environment variables it received, with
// each value's length and a short SHA-256 prefix, so a test can compare
// values without anything printing them.
//
//	app NAME...            report and exit 0 (1 if any is missing)
//	app --serve NAME...    report, then wait for SIGTERM or SIGINT and exit 0
//	app --print NAME...    print the values themselves (to test --redact)
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	args := os.Args[1:]
	serve, print := false, false
	for len(args) > 0 && (args[0] == "--serve" || args[0] == "--print") {
		serve = serve || args[0] == "--serve"
		print = print || args[0] == "--print"
		args = args[1:]
	}
	missing := 0
	for _, name := range args {
		v, ok := os.LookupEnv(name)
		switch {
		case !ok:
			fmt.Printf("%s: missing\n", name)
			missing++
		case print:
			fmt.Printf("%s=%s\n", name, v)
		default:
			sum := sha256.Sum256([]byte(v))
			fmt.Printf("%s: set, %d bytes, sha256:%s\n", name, len(v), hex.EncodeToString(sum[:4]))
		}
	}
	if serve {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("serving; waiting for SIGTERM")
		s := <-sigs
		fmt.Printf("got %v, exiting\n", s)
		os.Exit(0)
	}
	if missing > 0 {
		os.Exit(1)
	}
}
