package bundlefile

import (
	"errors"
	"slices"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal/author"
)

// CheckNames refuses names that the bundle at path would hold and that the
// injector refuses at container start, unless the allow_names of the
// bundle's environment in the policy (the file policy names, or the one
// found from path; see [EnvOf]) allows them: the check of every write, so
// that no write makes a bundle that fails only when the container starts.
// The error is a [*RefusedNameError]. The policy is read only when a name
// needs allowing.
func CheckNames(policy, path string, names []string) error {
	return checkNames(policy, path, path, names)
}

// checkNames is [CheckNames] for the bundle named shown, at path.
func checkNames(policy, shown, path string, names []string) error {
	if !slices.ContainsFunc(names, func(n string) bool { return inject.RefusedName(n, nil, nil) != nil }) {
		return nil // nothing to allow: the policy is not needed
	}
	env, p, err := EnvOf(policy, path)
	if err != nil {
		return err
	}
	return checkNamesIn(env, p, shown, names)
}

// checkNamesIn is [CheckNames] for a bundle (named shown) of environment env
// of policy p (nil: none).
func checkNamesIn(env *policies.Environment, p *policies.Policy, shown string, names []string) error {
	var allow []string
	if env != nil {
		allow = env.AllowNames
	}
	for _, n := range names {
		if err := inject.RefusedName(n, allow, nil); err != nil {
			var ne *inject.NameError
			if !errors.As(err, &ne) {
				return err
			}
			return &RefusedNameError{Bundle: shown, Env: env, Policy: p, Err: err}
		}
	}
	return nil
}

// envNames lists the environment names of every value of b.
func envNames(b *author.Bundle) []string {
	var out []string
	for _, l := range b.Leaves() {
		out = append(out, l.Env)
	}
	return out
}
