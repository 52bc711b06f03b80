package fingerprint

import (
	"testing"

	"github.com/sealenv/sealenv/internal/match"
)

// TestSearchAcrossBlocks plants a value raw, and wrapped with a break in
// its first window, astride every block boundary of the search (and
// at the very start and end), in text with line breaks, and checks that
// each is found once at its offset, in order of offset, also when the
// range searched starts and ends inside the data.
func TestSearchAcrossBlocks(t *testing.T) {
	t.Parallel()
	s, v := salt(t), strong(t, 40)
	p, err := Make(s, v)
	if err != nil {
		t.Skip("a random value the estimate finds weak")
	}
	set, err := NewSet([]Bundle{{Path: "b.env", Salt: s, Prints: map[string]string{"K": p}}})
	if err != nil {
		t.Fatal(err)
	}
	var wrapped []byte
	for _, f := range match.Forms(v) {
		if f.Encoding == "base64-wrapped" && f.Text[3] == '\n' {
			wrapped = f.Text
			break
		}
	}
	if wrapped == nil {
		t.Fatal("no wrapped form with a break after 3 characters")
	}
	data := filler(t, 5*block+1000)
	for i := 90; i < len(data); i += 97 {
		data[i] = '\n'
	}
	type plant struct {
		at  int
		enc string
		n   int
	}
	var want []plant
	put := func(at int, form []byte, enc string) {
		if len(want) > 0 && at < want[len(want)-1].at+want[len(want)-1].n+1 || at+len(form) >= len(data)-len(v) {
			return // would overlap the one before, or the last
		}
		copy(data[at:], form)
		want = append(want, plant{at, enc, len(form)})
	}
	put(0, v, "raw")
	for b := 1; b <= 5; b++ {
		// The last position of a block, the first of the next, and
		// astride the boundary.
		put(b*block-1+b%2, v, "raw")
		put(b*block+60, wrapped, "base64-wrapped")
		put(b*block+(b%3+1)*1000-20, v, "raw")
	}
	put(len(data)-len(v), v, "raw")
	hits := set.Search(data)
	if len(hits) != len(want) {
		t.Fatalf("%d hits, want %d: %v", len(hits), len(want), hits)
	}
	for i, h := range hits {
		if h.Offset != want[i].at || h.Encoding != want[i].enc || h.Name != "K" {
			t.Errorf("hit %d: %+v, want %+v", i, h, want[i])
		}
	}
	// A range that starts and ends inside the data: only what starts in it.
	from, to := want[2].at-5, want[len(want)-2].at+1
	var got []int
	set.SearchRange(data, from, to, func(_, _, _ string, at, _ int) { got = append(got, at) })
	if len(got) != len(want)-3 || got[0] != want[2].at || got[len(got)-1] != want[len(want)-2].at {
		t.Errorf("SearchRange(%d, %d): %v", from, to, got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("SearchRange: out of order: %v", got)
		}
	}
}
