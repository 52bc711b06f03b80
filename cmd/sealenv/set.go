package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/seal/author"
)

func setCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "set one value (read from stdin or a no-echo prompt, never from argv)",
		ArgsUsage: "BUNDLE KEY",
		Description: "The value is read from stdin; one trailing newline is dropped unless --raw.\n" +
			"On a terminal it is asked for without echo. There is deliberately no way to\n" +
			"pass a value as an argument: argv is visible to every process on the host.",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), adoptFlag(), signKeyFlag(),
			&cli.BoolFlag{Name: "raw", Usage: "keep stdin exactly, including a trailing newline"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return errors.New("usage: sealenv set BUNDLE KEY (value on stdin)")
			}
			path, key := c.Args().Get(0), c.Args().Get(1)
			err := e.editBundle(c, path, func(b *author.Bundle) (bool, error) {
				if _, ok := b.Get(key); !ok {
					if err := e.newKeyName(key); err != nil {
						return false, err
					}
				}
				value, err := e.readValue(key, c.Bool("raw"))
				if err != nil {
					return false, err
				}
				defer clear(value)
				if err := b.Set(key, value); err != nil {
					return false, fmt.Errorf("%s: %w", path, err)
				}
				return true, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "set %s in %s\n", key, path)
			return nil
		},
	}
}

// readValue reads a secret from a terminal without echo, or from stdin.
func (e *env) readValue(key string, raw bool) ([]byte, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "value for %s: ", key)
		v, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, fmt.Errorf("reading the value: %v", err)
		}
		return v, nil
	}
	v, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("reading the value from stdin: %v", err)
	}
	if len(v) > 1<<20 {
		clear(v)
		return nil, errors.New("value on stdin is larger than 1 MiB")
	}
	if !raw {
		v = bytes.TrimSuffix(v, []byte("\n"))
		v = bytes.TrimSuffix(v, []byte("\r"))
	}
	return v, nil
}

func unsetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "unset",
		Usage:     "remove keys from a bundle",
		ArgsUsage: "BUNDLE KEY...",
		Flags:     []cli.Flag{identityFlag(), storeFlag(), adoptFlag(), signKeyFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return errors.New("usage: sealenv unset BUNDLE KEY [KEY ...]")
			}
			path := c.Args().First()
			err := e.editBundle(c, path, func(b *author.Bundle) (bool, error) {
				for _, k := range c.Args().Tail() {
					if err := b.Unset(k); err != nil {
						return false, fmt.Errorf("%s: %w", path, err)
					}
				}
				return true, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "removed %d keys from %s\n", c.NArg()-1, path)
			return nil
		},
	}
}
