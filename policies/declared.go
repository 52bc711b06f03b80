package policies

import "slices"

// DeclaredNames are the names the policy declares for env's bundle: every
// key under keys:, the environment's required:, and the keys of every
// service that covers the environment; sorted, nil when it declares none.
// sealenv wrap carries them into the image, whose injector then runs no
// other name.
func (p *Policy) DeclaredNames(env *Environment) []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for name := range p.Keys {
		add(name)
	}
	add(env.Required...)
	for _, s := range p.Services {
		if keys, _ := p.ServiceKeys(s.Name, env.Name); len(keys) > 0 {
			add(keys...)
		}
	}
	slices.Sort(out)
	return out
}
