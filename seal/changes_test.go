package seal

import (
	"slices"
	"testing"
)

// The checks of review, one table each. The names and digests are made
// up: review reads the file's structure and digests, never a value.

// enc is an encrypted value bound by its path; weak and empty are the two
// kinds of value whose name no ciphertext binds.
func enc(name, sum string) leafState {
	return leafState{name: name, top: name, sum: sum, bound: true}
}

func weak(name, sum string) leafState {
	return leafState{name: name, top: name, weak: true, sum: sum, bound: true}
}

func empty(name string) leafState {
	return leafState{name: name, top: name, weak: true, empty: true, bound: true}
}

func TestChangeKind(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		now   leafState
		was   recordedValue
		known bool
		sums  bool
		want  ChangeKind
	}{
		"a name the record lacks":                    {enc("A", "s1"), recordedValue{}, false, true, ChangeAdded},
		"an empty name the record lacks":             {empty("A"), recordedValue{}, false, true, ChangeAdded},
		"the same ciphertext":                        {enc("A", "s1"), recordedValue{sum: "s1"}, true, true, ""},
		"another ciphertext":                         {enc("A", "s2"), recordedValue{sum: "s1"}, true, true, ChangeModified},
		"another ciphertext, before digests":         {enc("A", "s2"), recordedValue{}, true, false, ""},
		"an encrypted value emptied":                 {empty("A"), recordedValue{sum: "s1"}, true, true, ChangeEmptied},
		"an encrypted value turned plain":            {weak("A", "p1"), recordedValue{sum: "s1"}, true, true, ChangeModified},
		"an empty value filled with ciphertext":      {enc("A", "s1"), recordedValue{weak: true}, true, true, ChangeFilled},
		"a plain value encrypted":                    {enc("A", "s1"), recordedValue{weak: true, sum: "p1"}, true, true, ChangeFilled},
		"the same plain value":                       {weak("A", "p1"), recordedValue{weak: true, sum: "p1"}, true, true, ""},
		"still empty":                                {empty("A"), recordedValue{weak: true}, true, true, ""},
		"a plain value emptied":                      {empty("A"), recordedValue{weak: true, sum: "p1"}, true, true, ChangeEmptied},
		"an empty value filled with plain text":      {weak("A", "p1"), recordedValue{weak: true}, true, true, ChangeFilled},
		"another plain value":                        {weak("A", "p2"), recordedValue{weak: true, sum: "p1"}, true, true, ChangeModified},
		"another plain value, before digests":        {weak("A", "p2"), recordedValue{weak: true}, true, false, ChangeFilled},
		"an empty value filled, before digests":      {enc("A", "s1"), recordedValue{weak: true}, true, false, ChangeFilled},
		"an encrypted value emptied, before digests": {empty("A"), recordedValue{}, true, false, ChangeEmptied},
	} {
		if got := changeKind(tc.now, tc.was, tc.known, tc.sums); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

func TestRecordLookup(t *testing.T) {
	t.Parallel()
	withSums := readRecord(&metaDoc{Weak: []string{"E"}, Sums: map[string]string{"A": "s1"}, Keys: Meta{"A": {}, "L": {}}})
	before := readRecord(&metaDoc{Weak: []string{"E"}, Keys: Meta{"A": {}, "L": {}}})
	item := leafState{name: "L_0", top: "L"}
	for name, tc := range map[string]struct {
		r     record
		s     leafState
		want  recordedValue
		known bool
	}{
		"a digest":                         {withSums, enc("A", ""), recordedValue{sum: "s1"}, true},
		"a weak name":                      {withSums, empty("E"), recordedValue{weak: true}, true},
		"a list item the digests lack":     {withSums, item, recordedValue{}, false},
		"before digests, a top-level key":  {before, item, recordedValue{}, true},
		"before digests, an unknown key":   {before, enc("B", ""), recordedValue{}, false},
		"before digests, a weak name":      {before, empty("E"), recordedValue{weak: true}, true},
		"before digests, a recorded value": {before, enc("A", "s1"), recordedValue{}, true},
	} {
		got, known := tc.r.lookup(tc.s)
		if got != tc.want || known != tc.known {
			t.Errorf("%s: %+v %v, want %+v %v", name, got, known, tc.want, tc.known)
		}
	}
}

func TestRecordRemoved(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		doc  *metaDoc
		cur  []leafState
		want []string // names, in order
		weak []bool
	}{
		"nothing removed": {&metaDoc{Sums: map[string]string{"A": "s1"}, Weak: []string{"E"}}, []leafState{enc("A", "s1"), empty("E")}, nil, nil},
		"sorted by name": {&metaDoc{Sums: map[string]string{"C": "s3", "A": "s1"}, Weak: []string{"B"}}, nil,
			[]string{"A", "B", "C"}, []bool{false, true, false}},
		"before digests, the top-level keys": {&metaDoc{Keys: Meta{"A": {}, "L": {}, "Z": {}}, Weak: []string{"Z"}},
			[]leafState{{name: "L_0", top: "L"}}, []string{"A", "Z"}, []bool{false, true}},
		"with digests, the keys do not count": {&metaDoc{Keys: Meta{"A": {}}, Sums: map[string]string{}}, nil, nil, nil},
	} {
		got := readRecord(tc.doc).removed(tc.cur)
		var names []string
		var weak []bool
		for _, c := range got {
			if c.Kind != ChangeRemoved {
				t.Errorf("%s: %s is %q", name, c.Name, c.Kind)
			}
			names, weak = append(names, c.Name), append(weak, c.was.weak)
		}
		if !slices.Equal(names, tc.want) || !slices.Equal(weak, tc.weak) {
			t.Errorf("%s: %v (weak %v), want %v (weak %v)", name, names, weak, tc.want, tc.weak)
		}
	}
}

func TestWeakSetKept(t *testing.T) {
	t.Parallel()
	filled := func(s leafState) pending { return pending{Change: Change{Name: s.name, Kind: ChangeFilled}, now: s} }
	item := leafState{name: "L_0", top: "L", sum: "s1"} // a list item: its path does not bind its name
	for name, tc := range map[string]struct {
		recorded []string
		list     []pending
		cur      []leafState
		want     bool
	}{
		"the same weak names":                     {[]string{"E"}, nil, []leafState{empty("E"), enc("A", "s1")}, true},
		"no weak names":                           {nil, nil, []leafState{enc("A", "s1")}, true},
		"a weak name added":                       {[]string{"E"}, nil, []leafState{empty("E"), empty("F")}, false},
		"a weak name gone":                        {[]string{"E", "F"}, nil, []leafState{empty("E")}, false},
		"a weak name renamed":                     {[]string{"E"}, nil, []leafState{empty("F")}, false},
		"filled at a name its ciphertext binds":   {[]string{"E"}, []pending{filled(enc("E", "s1"))}, []leafState{enc("E", "s1")}, true},
		"filled at a list position":               {[]string{"L_0"}, []pending{filled(item)}, []leafState{item}, false},
		"filled with plain text keeps it weak":    {[]string{"E"}, []pending{filled(weak("E", "p1"))}, []leafState{weak("E", "p1")}, true},
		"filled, and another weak name appeared":  {[]string{"E"}, []pending{filled(enc("E", "s1"))}, []leafState{enc("E", "s1"), empty("F")}, false},
		"an encrypted value emptied is a new one": {nil, nil, []leafState{empty("A")}, false},
	} {
		if got := weakSetKept(tc.recorded, tc.list, tc.cur); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

func TestRecordReencrypted(t *testing.T) {
	t.Parallel()
	r := readRecord(&metaDoc{Sums: map[string]string{"A": "a1", "B": "b1", "P": "p1"}, Weak: []string{"P", "E"}})
	for name, tc := range map[string]struct {
		cur  []leafState
		want bool
	}{
		"every ciphertext changed":           {[]leafState{enc("A", "a2"), enc("B", "b2")}, true},
		"one ciphertext kept":                {[]leafState{enc("A", "a2"), enc("B", "b1")}, false},
		"plain values do not count":          {[]leafState{enc("A", "a2"), enc("B", "b2"), weak("P", "p1"), empty("E")}, true},
		"a new value does not count":         {[]leafState{enc("A", "a2"), enc("B", "b2"), enc("N", "n1")}, true},
		"no recorded ciphertext":             {[]leafState{weak("P", "p2"), enc("N", "n1")}, false},
		"an encrypted value now plain":       {[]leafState{weak("A", "a2"), enc("B", "b1")}, false},
		"a recorded ciphertext only changed": {[]leafState{enc("A", "a2")}, true},
	} {
		if got := r.reencrypted(tc.cur); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

func TestAuthenticated(t *testing.T) {
	t.Parallel()
	item := leafState{name: "L_0", top: "L", sum: "s1"} // not bound by its path
	change := func(k ChangeKind, now leafState, was recordedValue) pending {
		return pending{Change: Change{Name: "A", Kind: k}, now: now, was: was}
	}
	type want struct{ kept, moved bool } // with the weak names kept, and with one moved
	for name, tc := range map[string]struct {
		c    pending
		want want
	}{
		"added, encrypted and bound":          {change(ChangeAdded, enc("A", "s1"), recordedValue{}), want{true, true}},
		"added, encrypted in a list":          {change(ChangeAdded, item, recordedValue{}), want{true, false}},
		"added empty":                         {change(ChangeAdded, empty("A"), recordedValue{}), want{false, false}},
		"changed ciphertext":                  {change(ChangeModified, enc("A", "s2"), recordedValue{sum: "s1"}), want{true, true}},
		"changed ciphertext in a list":        {change(ChangeModified, item, recordedValue{sum: "s0"}), want{true, false}},
		"changed from plain":                  {change(ChangeModified, enc("A", "s2"), recordedValue{weak: true}), want{false, false}},
		"changed plain text":                  {change(ChangeModified, weak("A", "p2"), recordedValue{weak: true}), want{false, false}},
		"re-encrypted":                        {change(ChangeReencrypted, enc("A", "s2"), recordedValue{sum: "s1"}), want{true, true}},
		"filled at a bound name":              {change(ChangeFilled, enc("A", "s1"), recordedValue{weak: true}), want{true, true}},
		"filled in a list":                    {change(ChangeFilled, item, recordedValue{weak: true}), want{false, false}},
		"filled with plain text":              {change(ChangeFilled, weak("A", "p1"), recordedValue{weak: true}), want{false, false}},
		"emptied":                             {change(ChangeEmptied, empty("A"), recordedValue{sum: "s1"}), want{false, false}},
		"an encrypted value removed":          {change(ChangeRemoved, leafState{}, recordedValue{sum: "s1"}), want{true, false}},
		"an empty or plain value removed":     {change(ChangeRemoved, leafState{}, recordedValue{weak: true}), want{false, false}},
		"removed, before digests (no record)": {change(ChangeRemoved, leafState{}, recordedValue{}), want{true, false}},
	} {
		if got := (want{authenticated(tc.c, true), authenticated(tc.c, false)}); got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}

// TestReviewWithoutMetadata: a SOPS file sealenv never wrote has no
// changes, and every empty or unencrypted name waits for a review.
func TestReviewWithoutMetadata(t *testing.T) {
	t.Parallel()
	changes, unauth := (&parsed{}).review(nil, []leafState{enc("A", "s1"), empty("E"), weak("P", "p1")})
	if changes != nil || !slices.Equal(unauth, []string{"E", "P"}) {
		t.Errorf("changes %v, unauthenticated %v", changes, unauth)
	}
}

// TestReviewOrder: changes at the file's names come in file order, then
// removals by name; a replaced data key turns changed ciphertexts into
// re-encrypted ones, which their bound names authenticate although a new
// empty name moved the weak set (and so leaves the removals unproved).
func TestReviewOrder(t *testing.T) {
	t.Parallel()
	doc := &metaDoc{Sums: map[string]string{"B": "b1", "A": "a1", "Y": "y1", "X": "x1"}, Wrapped: "old"}
	p := &parsed{} // no wrapped keys: its digest differs from "old"
	changes, unauth := p.review(doc, []leafState{enc("B", "b2"), enc("A", "a2"), empty("N")})
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	want := []string{"B re-encrypted", "A re-encrypted", "N added with an empty value", "X removed", "Y removed"}
	if !slices.Equal(got, want) || !slices.Equal(unauth, []string{"N", "X", "Y"}) {
		t.Errorf("changes %q, unauthenticated %v;\nwant %q", got, unauth, want)
	}
}
