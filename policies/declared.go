package policies

import "slices"

// DeclaredNames lists, sorted, every name [Policy.Declared] accepts for
// env's bundle (keys:, the environment's required:, the keys of the
// services), or nil when the policy declares no key ([Policy.DeclaresKeys]):
// the same declaration as check's unknown-key. sealenv wrap carries the list
// into the image, whose injector then runs no other name.
func (p *Policy) DeclaredNames(env *Environment) []string {
	if !p.DeclaresKeys(env) {
		return nil
	}
	var out []string
	for name := range p.Keys {
		out = append(out, name)
	}
	out = append(out, env.Required...)
	for _, s := range p.Services {
		out = append(out, s.Keys...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out
}
