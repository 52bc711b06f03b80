package keyenv

import "testing"

// BenchmarkScrub is the cost of rewriting the environment block (what the
// injector adds to a supervised start when the key came in a variable):
// find the block, read it, rewrite it, read /proc/self/environ back. The
// block holds no key here, so every round does the whole read and no
// write (the write is one pwrite of the same size).
func BenchmarkScrub(b *testing.B) {
	for b.Loop() {
		if err := scrub([]string{"KEYENV_BENCH_NEVER_SET"}); err != nil {
			b.Fatal(err)
		}
		if _, err := Visible([]string{"KEYENV_BENCH_NEVER_SET"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup is a read of a held key.
func BenchmarkLookup(b *testing.B) {
	h := &Held{values: map[string]string{"K": "v"}, names: []string{"K"}}
	for b.Loop() {
		if _, ok := h.Lookup("K"); !ok {
			b.Fatal("lost")
		}
	}
}
