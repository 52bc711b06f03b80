package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/bundlefile"
)

func setCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "set one value (read from stdin or a no-echo prompt, never from argv)",
		ArgsUsage: "BUNDLE KEY",
		Description: "The value is read from stdin; one trailing newline is dropped unless --raw.\n" +
			"On a terminal it is asked for without echo. There is deliberately no way to\n" +
			"pass a value as an argument: argv is visible to every process on the host.\n" +
			"An empty value (nothing on stdin, a closed stdin, an empty answer) is an error\n" +
			"and the bundle stays as it was; --allow-empty stores an empty value on purpose.\n" +
			"--rename OLD gives OLD's value the name KEY and removes OLD, reading nothing: the\n" +
			"way to fix a name sops edit added that is not an environment variable name.",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), adoptFlag(), signKeyFlag(), envFlag(), policyFlag(),
			&cli.BoolFlag{Name: "raw", Usage: "keep stdin exactly, including a trailing newline"},
			&cli.BoolFlag{Name: "allow-empty", Usage: "store an empty value (without it, an empty stdin or answer is an error)"},
			renameFlag(),
		},
		Action: func(c *cli.Context) error {
			path, args, err := bundleAndArgs(c, 1, 1)
			if err != nil {
				return err
			}
			key := args[0]
			if old := c.String("rename"); old != "" {
				return e.renameKey(c, path, old, key)
			}
			err = bundlefile.Edit(path, e.writeOptions(c), func(b *bundlefile.Draft) (bool, error) {
				if _, ok := b.Get(key); !ok {
					if err := e.newKeyName(key); err != nil {
						return false, err
					}
				}
				value, err := e.readValue(key, c.Bool("raw"), c.Bool("allow-empty"), "pass --allow-empty to store an empty value")
				if err != nil {
					return false, err
				}
				defer clear(value)
				if err := b.Set(key, value); err != nil {
					return false, nestedHint(path, fmt.Errorf("%s: %w", path, err))
				}
				return true, nil
			})
			if err != nil {
				return writeError(path, err)
			}
			fmt.Fprintf(e.stderr, "set %s in %s\n", key, path)
			return nil
		},
	}
}

// readValue reads a secret from a terminal without echo, or from stdin.
// An empty value (nothing typed, an empty or closed stdin) is an error
// unless allowEmpty; emptyHint says how to store one on purpose.
func (e *env) readValue(key string, raw, allowEmpty bool, emptyHint string) ([]byte, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "value for %s: ", key)
		v, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, fmt.Errorf("reading the value: %v", err)
		}
		if len(v) == 0 && !allowEmpty {
			return nil, fmt.Errorf("no value typed for %s; nothing written (%s)", key, emptyHint)
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
	if len(v) == 0 && !allowEmpty {
		return nil, fmt.Errorf("no value for %s on stdin (it was empty or closed); nothing written (%s)", key, emptyHint)
	}
	return v, nil
}

func unsetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "unset",
		Usage:     "remove keys from a bundle",
		ArgsUsage: "BUNDLE KEY...",
		Flags:     []cli.Flag{identityFlag(), storeFlag(), adoptFlag(), signKeyFlag(), envFlag(), policyFlag()},
		Action: func(c *cli.Context) error {
			path, keys, err := bundleAndArgs(c, 1, -1)
			if err != nil {
				return err
			}
			o := e.writeOptions(c)
			o.AnyNames = anyNames(keys...) // the way out of a name sops edit added
			err = bundlefile.Edit(path, o, func(b *bundlefile.Draft) (bool, error) {
				for _, k := range keys {
					if err := b.Unset(k); err != nil {
						return false, fmt.Errorf("%s: %w", path, err)
					}
				}
				return true, nil
			})
			if err != nil {
				return writeError(path, err)
			}
			fmt.Fprintf(e.stderr, "removed %s from %s\n", plural(len(keys), "key"), path)
			return nil
		},
	}
}
