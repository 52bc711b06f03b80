package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/internal/fsutil"
)

// auditSources reads the sources of audit image: its arguments, then
// the lines of --from FILE.
func auditSources(c *cli.Context, stdin io.Reader) ([]imageref.Ref, error) {
	var out []imageref.Ref
	for _, a := range c.Args().Slice() {
		r, err := imageref.Parse(a)
		if err != nil {
			return nil, err
		}
		if r.Path != "" {
			// A file or directory source that is not there is a
			// mistake on the command line (a value typed in the wrong
			// place, which the report must not print as an image):
			// an error, before anything is audited.
			if _, err := os.Stat(r.Path); err != nil {
				return nil, fmt.Errorf("%s: %w", a, fsutil.Reason(err))
			}
		}
		out = append(out, r)
	}
	if from := c.String("from"); from != "" {
		var in io.Reader = stdin
		if from != "-" {
			f, err := os.Open(from)
			if err != nil {
				return nil, fmt.Errorf("--from: %w", fsutil.Reason(err))
			}
			defer f.Close()
			in = f
		}
		sc := bufio.NewScanner(in)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			r, err := imageref.Parse(line)
			if err != nil {
				return nil, fmt.Errorf("--from %s: line %d: %w", from, n, err)
			}
			out = append(out, r)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--from %s: %w", from, err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("usage: sealenv audit image [flags] SOURCE... (or --from FILE)")
	}
	return out, nil
}

func auditMergeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "join the JSON reports of audits (the shards of a fleet audit) into one",
		ArgsUsage: "REPORT...",
		Description: "Each REPORT is a file that sealenv audit --format json wrote. The exit\n" +
			"status is the worst of theirs: 2 if any is incomplete, else 1 if any has\n" +
			"findings, else 0. See docs/audit.md (Many images, and sharding).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "`text`, json or sarif"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` (default: standard output)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("usage: sealenv audit merge [flags] REPORT... (JSON reports of sealenv audit)")
			}
			switch c.String("format") {
			case "text", "json", "sarif":
			default:
				return fmt.Errorf("--format: unknown format %q (want text, json or sarif)", c.String("format"))
			}
			var reps []*audit.Report
			for _, p := range c.Args().Slice() {
				r, err := readReport(p)
				if err != nil {
					return err
				}
				reps = append(reps, r)
			}
			return e.writeAudit(c, audit.Merge(reps...), "audit")
		},
	}
}

func readReport(path string) (*audit.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	defer f.Close()
	r, err := audit.ReadReport(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
