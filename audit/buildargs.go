package audit

import "sort"

// whereBuildArg places a finding in a build argument given to a build.
const whereBuildArg = "build-arg"

// BuildArgs checks build arguments before they are given to a build, where
// BuildKit would record them in the image history and in provenance: a name
// or value holding a sealed value (in every encoding of the known-value
// detector) or a credential a rule matches, and a secret-named argument
// (or one named like a sealed key) with a value that is not a placeholder.
// Findings have where "build-arg" and the argument's name as field; like
// every finding, they never hold the value.
func BuildArgs(args map[string]string, opts Options) *Report {
	o := opts.defaults()
	a := &auditor{o: o, d: o.detectors(), rep: newReport("build arguments", o)}
	names := make([]string, 0, len(args))
	for n := range args {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := args[n]
		a.variable(n, v, whereBuildArg, kindBuildArg, "", n)
		a.searchString(n, whereBuildArg, "", n)
		a.searchString(v, whereBuildArg, "", n)
		a.rep.Coverage.Bytes += int64(len(n) + len(v))
	}
	a.coverValues()
	a.redactPlaces()
	a.rep.filter(o)
	return a.rep
}
