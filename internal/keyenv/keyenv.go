package keyenv

import (
	"os"
	"slices"
)

// Held are the key variables [Take] took out of the environment, in memory.
type Held struct {
	names  []string
	values map[string]string
}

// Take reads the variables names from the environment and removes them
// from it (see the package documentation). The error says why the original
// environment block could not be rewritten or the process not be made
// undumpable; the variables are still gone from the Go environment then,
// and the returned Held has them. Take with none of names set does nothing.
func Take(names []string) (*Held, error) {
	h := &Held{values: map[string]string{}}
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			h.names = append(h.names, n)
			h.values[n] = v
			os.Unsetenv(n)
		}
	}
	if len(h.names) == 0 {
		return h, nil
	}
	return h, protect(names)
}

// Lookup returns a variable Take took, else the environment's.
func (h *Held) Lookup(name string) (string, bool) {
	if h != nil {
		if v, ok := h.values[name]; ok {
			return v, true
		}
	}
	return os.LookupEnv(name)
}

// Environ returns the environment with the variables Take took, as
// "NAME=value" pairs: for a library that reads its settings from an
// environment list and removes the keys from what it passes on.
func (h *Held) Environ() []string {
	env := os.Environ()
	if h == nil {
		return env
	}
	for _, n := range h.names {
		env = append(env, n+"="+h.values[n])
	}
	return env
}

// Names returns the names of the variables Take took, in the order asked.
func (h *Held) Names() []string {
	if h == nil {
		return nil
	}
	return slices.Clone(h.names)
}
