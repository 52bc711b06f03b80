// Command dotenvoracle is a test oracle: it reads each file named on the
// command line with the real parsers of docker compose (compose-go's dotenv
// package) and of docker run --env-file (docker/cli's kvfile package), and
// prints one JSON line per file with what each read. The tests of package
// seal/author (and of cmd/sealenv) build it at test time; it is a module of
// its own so that neither parser becomes a dependency of sealenv.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/docker/cli/pkg/kvfile"
)

type reading struct {
	Err  string      `json:"err,omitempty"`
	Vars [][2]string `json:"vars"`
}

func main() {
	enc := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var out struct {
			Compose reading `json:"compose"`
			Docker  reading `json:"docker"`
		}
		// No lookup: a variable the file does not define is not found,
		// as in an empty environment.
		none := func(string) (string, bool) { return "", false }
		m, err := dotenv.ParseWithLookup(bytes.NewReader(data), none)
		if err != nil {
			out.Compose.Err = err.Error()
		}
		for k, v := range m {
			out.Compose.Vars = append(out.Compose.Vars, [2]string{k, v})
		}
		lines, err := kvfile.ParseFromReader(bytes.NewReader(data), nil)
		if err != nil {
			out.Docker.Err = err.Error()
		}
		for _, l := range lines {
			k, v, _ := strings.Cut(l, "=")
			out.Docker.Vars = append(out.Docker.Vars, [2]string{k, v})
		}
		if err := enc.Encode(out); err != nil {
			os.Exit(2)
		}
	}
}
