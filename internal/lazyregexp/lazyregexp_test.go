package lazyregexp

import (
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	re := New(`tok_([a-z]{4})`)
	got := make(chan *regexp.Regexp, 8)
	for range cap(got) {
		go func() { got <- re() }()
	}
	first := <-got
	for range cap(got) - 1 {
		if <-got != first {
			t.Fatal("compiled twice")
		}
	}
	if m := first.FindStringSubmatch("a tok_abcd b"); len(m) != 2 || m[1] != "abcd" {
		t.Fatalf("match %q", m)
	}
	// A mistake panics on first use, not at init.
	bad := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("a bad expression did not panic on use")
		}
	}()
	bad()
}
