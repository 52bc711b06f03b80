package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func rotateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rotate",
		Usage:     "replace a value with a new random one, keeping the old one for a grace period",
		ArgsUsage: "BUNDLE KEY",
		Description: "The new value is 32 random bytes as unpadded base64url unless --bytes,\n" +
			"--alphabet or --stdin say otherwise. With --grace the old value stays in the bundle\n" +
			"as KEY" + seal.GraceSuffix + " until the grace period ends; expired grace values are dropped on\n" +
			"the next write.",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(),
			&cli.DurationFlag{Name: "grace", Usage: "keep the old value as KEY" + seal.GraceSuffix + " for `DURATION` (e.g. 72h)"},
			&cli.IntFlag{Name: "bytes", Value: 32, Usage: "random bytes (base64url, hex) or characters (alnum)"},
			&cli.StringFlag{Name: "alphabet", Value: "base64url", Usage: "`base64url`, hex or alnum"},
			&cli.BoolFlag{Name: "stdin", Usage: "read the new value from stdin (e.g. a key issued by a vendor)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return errors.New("usage: sealenv rotate BUNDLE KEY [--grace DURATION]")
			}
			path, key := c.Args().Get(0), c.Args().Get(1)
			if c.Duration("grace") < 0 {
				return errors.New("--grace: duration is negative")
			}
			var value []byte
			var err error
			if c.Bool("stdin") {
				value, err = e.readValue(key, false)
			} else {
				value, err = author.Generator{Bytes: c.Int("bytes"), Alphabet: c.String("alphabet")}.Generate()
			}
			if err != nil {
				return err
			}
			defer clear(value)
			b, err := e.loadBundle(c, path)
			if err != nil {
				return err
			}
			defer b.Zero()
			if err := b.Rotate(key, value, c.Duration("grace")); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := saveBundle(path, b); err != nil {
				return err
			}
			if g := c.Duration("grace"); g > 0 {
				fmt.Fprintf(e.stderr, "rotated %s in %s; old value kept as %s%s for %s\n", key, path, key, seal.GraceSuffix, g)
			} else {
				fmt.Fprintf(e.stderr, "rotated %s in %s\n", key, path)
			}
			return nil
		},
	}
}
