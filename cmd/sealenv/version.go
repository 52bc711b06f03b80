package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	buildversion "github.com/sealenv/sealenv/internal/version"
)

// version is this build's version; reports, SARIF and wrap labels carry it.
var version = buildversion.String()

// printVersion is the --version output: one line, as sealenv-inject prints.
func printVersion(c *cli.Context) {
	fmt.Fprintf(c.App.Writer, "sealenv %s\n", version)
}

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, date, Go version and platform of this build",
		Description: "The version is the release's (stamped at link time), else the module version\n" +
			"go install recorded, else \"dev\". A build is reproducible when it was built with\n" +
			"-trimpath from a recorded commit without uncommitted changes, or from a\n" +
			"module version checked against go.sum.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("usage: sealenv version [--json]")
			}
			in := buildversion.Get()
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			unknown := func(s string) string {
				if s == "" {
					return "unknown"
				}
				return s
			}
			modified := "unknown"
			if in.Modified != nil {
				modified = fmt.Sprint(*in.Modified)
			}
			fmt.Fprintf(e.stdout, "sealenv %s\n", in.Version)
			fmt.Fprintf(e.stdout, "commit:            %s\n", unknown(in.Commit))
			fmt.Fprintf(e.stdout, "date:              %s\n", unknown(in.Date))
			fmt.Fprintf(e.stdout, "go:                %s\n", in.GoVersion)
			fmt.Fprintf(e.stdout, "platform:          %s\n", in.Platform)
			fmt.Fprintf(e.stdout, "trimpath:          %v\n", in.Trimpath)
			fmt.Fprintf(e.stdout, "vcs.modified:      %s\n", modified)
			fmt.Fprintf(e.stdout, "reproducible:      %v\n", in.Reproducible)
			fmt.Fprintf(e.stdout, "injector contract: %d\n", in.Contract)
			return nil
		},
	}
}
