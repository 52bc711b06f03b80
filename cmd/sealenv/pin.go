package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/policies"
)

func pinCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pin",
		Usage:     "record the digest of the policy's generator commands and the repository files they name",
		ArgsUsage: "[KEY...]",
		Description: "A generator command in sealenv.yaml runs (sealenv rotate) only while the sha256\n" +
			"next to it matches the command and every file of the repository it names. After\n" +
			"reviewing a new or changed command or script, pin writes that sha256 into the\n" +
			"policy (one line per generator, the rest of the file untouched): for the\n" +
			"generators of the KEYs named (\"defaults\" for the defaults'), or all of them.",
		Flags: []cli.Flag{policyFlag()},
		Action: func(c *cli.Context) error {
			path, err := policyPath(c)
			if err != nil {
				return err
			}
			done, err := policies.PinGenerators(path, c.Args().Slice())
			if err != nil {
				return err
			}
			if len(done) == 0 {
				fmt.Fprintf(e.stderr, "%s has no generator command to pin\n", path)
				return nil
			}
			for _, d := range done {
				verb := "unchanged"
				if d.Changed {
					verb = "pinned"
				}
				files := "no repository files"
				if len(d.Files) > 0 {
					files = strings.Join(d.Files, ", ")
				}
				fmt.Fprintf(e.stdout, "%s %s: %q (%s) sha256 %s\n", verb, d.Where, d.Command, files, d.SHA256[:12])
			}
			return nil
		},
	}
}

// policyPath is the policy file --policy names, else sealenv.yaml in this
// directory or above.
func policyPath(c *cli.Context) (string, error) {
	if p := c.String("policy"); p != "" {
		return p, nil
	}
	return policies.Find(".")
}

// pinRefusal adds the way forward to a generator command the policy does
// not pin as it is: what changed in its files since the pin (git diff,
// through the same redaction as every message), and the command that
// records a reviewed change.
func (e *env) pinRefusal(err error, key string) error {
	var pe *policies.PinError
	if !errors.As(err, &pe) {
		return err
	}
	pinCmd := "sealenv pin"
	if key != "" {
		pinCmd += " " + key
	}
	if pe.Pinned == "" {
		return withCode(exitError, fmt.Errorf("%w; review the command and the files it runs, then record them with %s", err, pinCmd))
	}
	if commit, diff := fleet.PinDiff(pe); len(diff) > 0 {
		fmt.Fprintf(e.stderr, "sealenv: what changed in the generator's files since commit %.12s, where they matched the pin:\n%s", commit, e.redact(string(diff)))
	}
	return withCode(exitError, fmt.Errorf("%w; the command did not run: review the change, then record it with %s", err, pinCmd))
}
