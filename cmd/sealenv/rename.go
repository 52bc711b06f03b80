package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func renameFlag() cli.Flag {
	return &cli.StringFlag{Name: "rename", Usage: "give the value of key `OLD` the name KEY (OLD is removed; no value is read): also for a name sops edit added that is not an environment variable name"}
}

// anyNames says whether a write must open a bundle that holds names that
// are not environment variable names: when it names one to remove or
// rename.
func anyNames(names ...string) bool {
	for _, n := range names {
		if !seal.ValidName(n) {
			return true
		}
	}
	return false
}

// renameKey is set --rename OLD BUNDLE NEW: the value of OLD under the name
// NEW, in one write.
func (e *env) renameKey(c *cli.Context, path, old, name string) error {
	o := e.writeOptions(c)
	o.AnyNames = anyNames(old)
	err := bundlefile.Edit(path, o, func(b *bundlefile.Draft) (bool, error) {
		v, ok := b.Get(old)
		if !ok {
			return false, fmt.Errorf("--rename: %s: %w: %s", path, author.ErrNoKey, old)
		}
		if _, exists := b.Get(name); exists {
			return false, fmt.Errorf("--rename: %s holds %s already; remove it first (sealenv unset %s %s)", path, name, path, name)
		}
		if err := e.newKeyName(name); err != nil {
			return false, err
		}
		value := []byte(v)
		defer clear(value)
		if err := b.Set(name, value); err != nil {
			return false, nestedHint(path, fmt.Errorf("%s: %w", path, err))
		}
		if err := b.Unset(old); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		return true, nil
	})
	if err != nil {
		return writeError(path, err)
	}
	fmt.Fprintf(e.stderr, "renamed %s to %s in %s\n", old, name, path)
	return nil
}
