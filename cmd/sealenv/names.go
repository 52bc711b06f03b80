package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal/author"
)

// refusedNameError adds to a write refused for a name the injector refuses
// (see bundlefile.CheckNames) where to allow the name, or how to remove it.
func refusedNameError(rn *bundlefile.RefusedNameError) error {
	path, err, env, p := rn.Bundle, rn.Err, rn.Env, rn.Policy
	var ne *inject.NameError
	if !errors.As(err, &ne) {
		return err
	}
	remove := fmt.Sprintf("sealenv unset %s %s", path, ne.Name)
	switch {
	case ne.Reserved:
		return fmt.Errorf("%s: %w, and no policy allows it; remove it (%s)", path, err, remove)
	case env != nil:
		return fmt.Errorf("%s: %w, so the injector refuses the bundle at container start; if this is intended, add %s to allow_names: of environment %s in %s, else remove it (%s)",
			path, err, ne.Name, env.Name, displayPath(p.Path), remove)
	}
	return fmt.Errorf("%s: %w, so the injector refuses the bundle at container start; if this is intended, list %s under allow_names: of the environment whose bundle this is in %s (sealenv init writes one), else remove it (%s)",
		path, err, ne.Name, policies.FileName, remove)
}

// refuseServedNames is the names check of every write for sealenv build:
// the names it serves (served) of each opened bundle, which a RUN step can
// put in its environment (--mount=type=secret,env=NAME).
func refuseServedNames(c *cli.Context, opened []fleet.Opened, served []string) error {
	for _, b := range opened {
		var names []string
		for _, s := range b.Secrets {
			if slices.Contains(served, s.Name) {
				names = append(names, s.Name)
			}
		}
		if err := bundlefile.CheckNames(c.String("policy"), b.Path, names); err != nil {
			return writeError(b.Path, err)
		}
	}
	return nil
}

// nestedHint adds the command to an error (which names the bundle at
// path) of a write of one value that the bundle's structure refuses:
// unset the map or list first, or edit the list.
func nestedHint(path string, err error) error {
	var ns *author.NotScalarError
	switch {
	case errors.As(err, &ns):
		return fmt.Errorf("%w (sealenv unset %s %s)", err, path, ns.Name)
	case errors.Is(err, author.ErrNoListItem):
		return fmt.Errorf("%w; add list items with sealenv edit %s", err, path)
	}
	return err
}
