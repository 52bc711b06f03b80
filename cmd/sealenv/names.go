package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal/author"
)

// envForPath finds the policy environment whose bundle is path (which need
// not exist yet): nil without a policy or when none names it. A policy that
// exists but does not load is an error: its allow_names cannot be skipped.
func envForPath(c *cli.Context, path string) (*policies.Environment, *policies.Policy, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	pp := c.String("policy")
	if pp == "" {
		if pp, err = policies.Find(filepath.Dir(abs)); err != nil {
			return nil, nil, nil
		}
	}
	p, err := policies.Load(pp)
	if err != nil {
		return nil, nil, err
	}
	for i := range p.Environments {
		env := &p.Environments[i]
		b, err := filepath.Abs(p.BundlePath(env))
		if err != nil {
			continue
		}
		if b == abs || sameFile(b, abs) {
			return env, p, nil
		}
		if r, err := p.ResolveBundle(env); err == nil && (r == abs || sameFile(r, abs)) {
			return env, p, nil
		}
	}
	return nil, p, nil
}

// refuseNames refuses a bundle at path (real: the file it resolves to)
// that would hold a name the injector refuses at container start, unless
// the allow_names of the bundle's environment in the policy allows it:
// the check of every write, so that no write makes a bundle that fails
// only when the container starts. The error names the setting that allows
// the name, or how to remove it.
func refuseNames(c *cli.Context, path, real string, names []string) error {
	if !slices.ContainsFunc(names, func(n string) bool { return inject.RefusedName(n, nil, nil) != nil }) {
		return nil // nothing to allow: the policy is not needed
	}
	env, p, err := envForPath(c, real)
	if err != nil {
		return err
	}
	var allow []string
	if env != nil {
		allow = env.AllowNames
	}
	for _, n := range names {
		if err := inject.RefusedName(n, allow, nil); err != nil {
			return refusedNameError(path, err, env, p)
		}
	}
	return nil
}

// refusedNameError adds to a refusal of inject.RefusedName where to allow
// the name, or how to remove it.
func refusedNameError(path string, err error, env *policies.Environment, p *policies.Policy) error {
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

// envNames lists the environment names of every value of b.
func envNames(b *author.Bundle) []string {
	var out []string
	for _, l := range b.Leaves() {
		out = append(out, l.Env)
	}
	return out
}

// checksNames reports whether a command's writes add or keep names and so
// are checked by refuseNames: not unset (removing a name is the way out of
// a refusal) and not rekey (who may decrypt must change whatever the
// names are).
func checksNames(c *cli.Context) bool {
	return c.Command.Name != "unset" && c.Command.Name != "rekey"
}

// refuseServedNames is refuseNames for sealenv build: the names it serves
// (served) of each opened bundle, which a RUN step can put in its
// environment (--mount=type=secret,env=NAME).
func refuseServedNames(c *cli.Context, opened []openedBundle, served []string) error {
	for _, b := range opened {
		var names []string
		for _, s := range b.Secrets {
			if slices.Contains(served, s.Name) {
				names = append(names, s.Name)
			}
		}
		if err := refuseNames(c, b.path, b.path, names); err != nil {
			return err
		}
	}
	return nil
}

// nestedHint adds the command to a write of one value that the bundle's
// structure refuses: unset the map or list first, or edit the list.
func nestedHint(path string, err error) error {
	var ns *author.NotScalarError
	switch {
	case errors.As(err, &ns):
		return fmt.Errorf("%s: %w (sealenv unset %s %s)", path, err, path, ns.Name)
	case errors.Is(err, author.ErrNoListItem):
		return fmt.Errorf("%s: %w; add list items with sealenv edit %s", path, err, path)
	}
	return fmt.Errorf("%s: %w", path, err)
}
