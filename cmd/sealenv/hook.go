package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/githook"
)

func hookCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "hook",
		Usage:       "install git hooks that keep plaintext secrets out of commits and merges",
		Subcommands: []*cli.Command{hookInstallCommand(e)},
	}
}

func hookInstallCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "write the pre-commit and pre-merge-commit hooks into this repository",
		ArgsUsage: " ",
		Description: "Writes the hooks where git runs them (core.hooksPath honoured): each runs\n" +
			"sealenv scan --staged, then sealenv check --no-identity when sealenv.yaml exists, and\n" +
			"stops the commit or merge on a finding. A hook that sealenv did not write is\n" +
			"refused unless --force (replace it) or --chain (keep it as HOOK.sealenv-chained and\n" +
			"run it first). Running install again updates sealenv's hooks.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace a hook that sealenv did not write"},
			&cli.BoolFlag{Name: "chain", Usage: "keep a hook that sealenv did not write and run it before sealenv's"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("usage: sealenv hook install [--force|--chain]")
			}
			self, _ := os.Executable()
			if self != "" {
				self, _ = filepath.Abs(self)
			}
			res, err := githook.Install(githook.Options{Force: c.Bool("force"), Chain: c.Bool("chain"), Sealenv: self})
			if errors.Is(err, githook.ErrForeignHook) {
				return fmt.Errorf("%w; pass --chain to keep it and run it before sealenv's, or --force to replace it", err)
			}
			if err != nil {
				return fmt.Errorf("hook install: %w", err)
			}
			msg := fmt.Sprintf("installed the %s hooks in %s", strings.Join(res.Installed, " and "), res.HooksDir)
			if len(res.Chained) > 0 {
				msg += fmt.Sprintf("; the hooks that were there (%s) run first, as HOOK%s", strings.Join(res.Chained, ", "), githook.ChainedSuffix)
			}
			if len(res.Replaced) > 0 {
				msg += fmt.Sprintf("; replaced %s", strings.Join(res.Replaced, ", "))
			}
			fmt.Fprintln(e.stderr, msg)
			return nil
		},
	}
}
