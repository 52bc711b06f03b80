package seal

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ChangeKind says how a value differs from what sealenv's metadata recorded
// when sealenv last wrote the bundle.
type ChangeKind string

// The kinds of [Change].
const (
	// ChangeAdded: a name the metadata does not record.
	ChangeAdded ChangeKind = "added"
	// ChangeModified: the stored form (the ciphertext, or a plain value)
	// differs from the recorded digest.
	ChangeModified ChangeKind = "changed"
	// ChangeFilled: recorded as empty, now has a value.
	ChangeFilled ChangeKind = "filled"
	// ChangeEmptied: recorded with a value, now empty.
	ChangeEmptied ChangeKind = "emptied"
	// ChangeRemoved: recorded, no longer in the file.
	ChangeRemoved ChangeKind = "removed"
	// ChangeReencrypted: every ciphertext and every wrapped data key
	// changed: the data key was replaced (sops rotate, or a decrypt and
	// encrypt from scratch). The values are probably the same; nothing
	// without the old data key can tell.
	ChangeReencrypted ChangeKind = "re-encrypted"
)

// Change is one difference between a bundle and the record in its sealenv
// metadata: what another tool (sops) changed since sealenv last wrote it.
// Names are flattened environment names; nothing in a Change is secret.
type Change struct {
	Name string
	Kind ChangeKind
	// Authenticated reports whether the file proves that a holder of the
	// data key made this change: the value's ciphertext binds its name
	// (additional data) and the SOPS MAC covers it. Otherwise anyone who
	// can write the file could have made it, and it waits for a review
	// ([Bundle.Unauthenticated]). Read from a file without a key
	// ([Inspect]) it is what the file claims, not verified.
	Authenticated bool
	// Empty reports whether the value is empty or null now.
	Empty bool
}

// String describes the change in a few words: "API_TOKEN changed".
func (c Change) String() string {
	s := c.Name + " " + string(c.Kind)
	switch {
	case c.Kind == ChangeAdded && c.Empty:
		s += " with an empty value"
	case c.Kind == ChangeModified && c.Empty:
		s += " to an empty value"
	}
	return s
}

// ErrUnauthenticated: the bundle has changes that nothing authenticates (see
// [UnauthenticatedError]).
var ErrUnauthenticated = errors.New("unauthenticated changes")

// UnauthenticatedError is returned by [Open] for a bundle whose values are
// authentic but whose names are not all: empty or unencrypted values added,
// removed or renamed outside sealenv, or a SOPS file that sealenv has not
// adopted. [OpenForReview] returns such a bundle for a person to review.
type UnauthenticatedError struct {
	// Names are the flattened names nothing authenticates, in file order.
	Names []string
	// Changes describes them when the bundle has sealenv metadata; nil for
	// a SOPS file sealenv never wrote.
	Changes []Change
}

func (e *UnauthenticatedError) Error() string {
	if e.Changes == nil {
		return fmt.Sprintf("%s: empty or unencrypted values in a SOPS file that sealenv has not adopted: SOPS does not authenticate their names", strings.Join(e.Names, ", "))
	}
	return fmt.Sprintf("%s: changed outside sealenv in a way that nothing authenticates (SOPS does not authenticate the names of empty or unencrypted values)", DescribeChanges(e.Changes))
}

// Is makes errors.Is(err, [ErrUnauthenticated]) true.
func (e *UnauthenticatedError) Is(target error) bool { return target == ErrUnauthenticated }

// DescribeChanges joins changes into one line: "A added, B removed".
func DescribeChanges(cs []Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// Unauthenticated returns the changes of cs that nothing authenticates.
func Unauthenticated(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if !c.Authenticated {
			out = append(out, c)
		}
	}
	return out
}

// EffectiveMeta returns m as it stands after changes made outside sealenv:
// a value that another tool added, changed, filled or emptied counts as
// set at lastModified (sops records one time per file, that of its last
// write); a grace value keeps its grace; a re-encrypted value keeps its
// recorded time, since re-encrypting does not change it. Nested names get
// their own entry. m is not modified.
func EffectiveMeta(m Meta, changes []Change, lastModified time.Time) Meta {
	out := make(Meta, len(m)+len(changes))
	for k, v := range m {
		out[k] = v
	}
	for _, c := range changes {
		switch c.Kind {
		case ChangeAdded, ChangeModified, ChangeFilled, ChangeEmptied:
			km := out[c.Name]
			km.Set = lastModified.UTC()
			out[c.Name] = km
		case ChangeRemoved:
			delete(out, c.Name)
		}
	}
	return out
}

// SumOf is the digest of a value's stored form that the metadata records
// (the ENC[...] text, or a plain value with its type): 96 bits of SHA-256,
// enough to see a change, not meant to authenticate (the MAC does). Empty
// and null values have none ("").
func SumOf(v any) string { return sumOf(v) }

func sumOf(v any) string {
	var b []byte
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if v == "" {
			return ""
		}
		b = []byte(v)
	default:
		env, _ := plainBytes(v)
		b = append([]byte(fmt.Sprintf("%T:", v)), env...)
	}
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// wrappedSum digests every wrapped copy of the data key, of every key type.
func (p *parsed) wrappedSum() string {
	var encs []string
	var other func(v any)
	other = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, it := range v {
				other(it)
			}
		case map[string]any:
			if s, ok := v["enc"].(string); ok {
				encs = append(encs, s)
			}
		}
	}
	for _, s := range p.meta.Age {
		encs = append(encs, s.Enc)
	}
	for _, v := range p.meta.Other {
		other(v)
	}
	for _, g := range p.meta.KeyGroups {
		for _, s := range g.Age {
			encs = append(encs, s.Enc)
		}
		for _, v := range g.Other {
			other(v)
		}
	}
	return WrappedSum(encs)
}

// WrappedSum digests the wrapped copies of a data key (the "enc" field of
// every master key, in any order) as the metadata records them.
func WrappedSum(encs []string) string {
	if len(encs) == 0 {
		return ""
	}
	encs = append([]string(nil), encs...)
	sort.Strings(encs)
	h := sha256.Sum256([]byte(strings.Join(encs, "\n")))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// MetaKeyFor returns the name of the key that holds sealenv's metadata in
// a file whose unencrypted suffix is suffix ("" for a file with another
// rule): "sealenv" and the suffix, so that the file's own rule keeps it
// readable. A file with a regular expression or an encrypted suffix uses
// [MetaKey], which its rule may encrypt; then only a reader with a key
// sees the metadata.
func MetaKeyFor(unencryptedSuffix string) string {
	if unencryptedSuffix == "" {
		return MetaKey
	}
	return "sealenv" + unencryptedSuffix
}

// metaKey is the metadata key of this file.
func (p *parsed) metaKey() string { return MetaKeyFor(p.meta.UnencryptedSuffix) }

// isMeta reports whether l holds sealenv's metadata; a leaf elsewhere that
// takes a metadata name is an error.
func (p *parsed) isMeta(l leaf) (bool, error) {
	mk := p.metaKey()
	if l.name != mk && l.name != MetaKey {
		return false, nil
	}
	if len(l.path) == 1 && l.path[0] == mk {
		return true, nil
	}
	return false, &reasonError{kind: ErrInvalidName, msg: fmt.Sprintf("key %q is reserved for sealenv metadata", truncateName(l.name))}
}

// leafState is what the review of a value needs, read without any key.
type leafState struct {
	name  string
	top   string // top-level key
	weak  bool   // empty, null, or unencrypted by the rules: no ciphertext binds the name
	empty bool
	bound bool // the name is the value's path (no list index): its additional data binds it
	sum   string
}

// states lists the values of the file (not the metadata, not comments) in
// file order.
func (p *parsed) states() []leafState {
	out := make([]leafState, 0, len(p.leaves))
	mk := p.metaKey()
	for _, l := range p.leaves {
		if len(l.path) == 1 && l.path[0] == mk {
			continue
		}
		if s, ok := l.val.(string); ok && strings.HasSuffix(s, ",type:comment]") {
			if _, _, _, typ, ok := splitEnc(s); ok && typ == "comment" {
				continue
			}
		}
		empty := l.val == nil || l.val == ""
		out = append(out, leafState{
			name:  l.name,
			top:   l.path[0],
			weak:  empty || !p.encrypted(l.path),
			empty: empty,
			bound: l.name == strings.Join(l.path, "_"),
			sum:   sumOf(l.val),
		})
	}
	return out
}

func (p *parsed) record(states []leafState) Record {
	r := Record{Sums: map[string]string{}, Wrapped: p.wrappedSum()}
	for _, s := range states {
		if s.weak {
			r.Weak = append(r.Weak, s.name)
		}
		if s.sum != "" {
			r.Sums[s.name] = s.sum
		}
	}
	return r
}

// review compares the file with the record in its metadata (doc; nil when
// the file has none) and returns what changed and the names nothing
// authenticates.
//
// What the file proves by itself (the SOPS MAC and each value's additional
// data, so only a holder of the data key could have done it): a
// non-empty encrypted value at a name bound by its path, added, changed or
// filled; and while the set of empty and unencrypted names is the one
// recorded, any change to encrypted values, removals included. What it
// does not prove: the names of empty and unencrypted values (anyone can
// add, remove or rename them without breaking the MAC), the content of
// unencrypted values (the MAC concatenates values without separators, so
// text can move between neighbours), and, once those changed, the list
// positions that give list items their names.
//
// The checks run in this order, each in its own function: what changed at
// each name of the file ([record.changed]), what the record has that the
// file lost ([record.removed]), whether the set of names no ciphertext
// binds is the recorded one ([weakSetKept]), whether the data key was
// replaced ([record.reencrypted]), and which changes the file proves
// ([authenticated]).
func (p *parsed) review(doc *metaDoc, cur []leafState) (changes []Change, unauth []string) {
	if doc == nil {
		return nil, weakNames(cur)
	}
	r := readRecord(doc)
	list := append(r.changed(cur), r.removed(cur)...)
	weakSame := weakSetKept(doc.Weak, list, cur)
	if r.sums && doc.Wrapped != "" && doc.Wrapped != p.wrappedSum() && r.reencrypted(cur) {
		reencrypt(list)
	}
	for _, c := range list {
		c.Authenticated = authenticated(c, weakSame)
		changes = append(changes, c.Change)
		if !c.Authenticated {
			unauth = append(unauth, c.Name)
		}
	}
	return changes, unauth
}

// weakNames are the names of a file without sealenv metadata that nothing
// authenticates: those of its empty and unencrypted values.
func weakNames(cur []leafState) []string {
	var out []string
	for _, s := range cur {
		if s.weak {
			out = append(out, s.name)
		}
	}
	return out
}

// recordedValue is what the metadata records of one name.
type recordedValue struct {
	weak bool   // empty or unencrypted when sealenv wrote it
	sum  string // digest of its stored form; "" for an empty value
}

// record is sealenv's metadata as [parsed.review] reads it.
type record struct {
	values map[string]recordedValue
	// sums: the record has digests. Before digests (older bundles) the
	// metadata names every top-level key (keys), and a value's change
	// shows only when it became or stopped being weak.
	sums bool
	keys Meta
}

func readRecord(doc *metaDoc) record {
	r := record{values: map[string]recordedValue{}, sums: doc.Sums != nil, keys: doc.Keys}
	for _, n := range doc.Weak {
		r.values[n] = recordedValue{weak: true}
	}
	for n, s := range doc.Sums {
		v := r.values[n]
		v.sum = s
		r.values[n] = v
	}
	return r
}

// lookup returns the record of s, and whether the record knows its name.
func (r record) lookup(s leafState) (recordedValue, bool) {
	v, ok := r.values[s.name]
	if !ok && !r.sums {
		_, ok = r.keys[s.top]
	}
	return v, ok
}

// pending is a change before [authenticated] decides whether the file
// proves it.
type pending struct {
	Change
	now leafState     // the value in the file; zero for a removed one
	was recordedValue // its record; zero for an added one
}

// changed lists the changes at the names of the file, in file order.
func (r record) changed(cur []leafState) []pending {
	var out []pending
	for _, s := range cur {
		was, known := r.lookup(s)
		if kind := changeKind(s, was, known, r.sums); kind != "" {
			out = append(out, pending{Change: Change{Name: s.name, Kind: kind, Empty: s.empty}, now: s, was: was})
		}
	}
	return out
}

// changeKind says how the value s differs from its record was (known:
// the record has the name; sums: the record has digests); "" when it does
// not.
func changeKind(s leafState, was recordedValue, known, sums bool) ChangeKind {
	switch {
	case !known:
		return ChangeAdded
	case s.weak && !was.weak:
		if s.empty {
			return ChangeEmptied
		}
		return ChangeModified
	case !s.weak && was.weak:
		return ChangeFilled
	case s.weak && was.weak:
		switch {
		case s.sum == was.sum:
			return ""
		case s.empty:
			return ChangeEmptied
		case was.sum == "":
			return ChangeFilled
		}
		return ChangeModified
	case sums && s.sum != was.sum:
		return ChangeModified
	}
	return ""
}

// removed lists the recorded names the file no longer has, sorted by name.
func (r record) removed(cur []leafState) []pending {
	present, tops := map[string]bool{}, map[string]bool{}
	for _, s := range cur {
		present[s.name], tops[s.top] = true, true
	}
	var out []pending
	for n, was := range r.values {
		if !present[n] {
			out = append(out, pending{Change: Change{Name: n, Kind: ChangeRemoved}, was: was})
		}
	}
	if !r.sums {
		for k := range r.keys {
			if _, dup := r.values[k]; !tops[k] && !present[k] && !dup {
				out = append(out, pending{Change: Change{Name: k, Kind: ChangeRemoved}})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// weakSetKept reports whether the names no ciphertext binds are the
// recorded ones (recordedWeak), after the values of list filled at names
// their ciphertext binds.
func weakSetKept(recordedWeak []string, list []pending, cur []leafState) bool {
	want := map[string]bool{}
	for _, n := range recordedWeak {
		want[n] = true
	}
	for _, c := range list {
		if c.Kind == ChangeFilled && !c.now.weak && c.now.bound {
			delete(want, c.Name)
		}
	}
	kept, now := true, 0
	for _, s := range cur {
		if s.weak {
			now++
			if !want[s.name] {
				kept = false
			}
		}
	}
	return kept && now == len(want)
}

// reencrypted reports whether every recorded ciphertext of the file
// changed, as when the data key is replaced (the caller has seen that
// every wrapped data key changed too).
func (r record) reencrypted(cur []leafState) bool {
	encrypted, changed := 0, 0
	for _, s := range cur {
		if was, ok := r.values[s.name]; ok && !s.weak && !was.weak && was.sum != "" {
			encrypted++
			if s.sum != was.sum {
				changed++
			}
		}
	}
	return encrypted > 0 && changed == encrypted
}

// reencrypt turns the changed ciphertexts of list into re-encrypted ones.
func reencrypt(list []pending) {
	for i := range list {
		if list[i].Kind == ChangeModified && !list[i].now.weak {
			list[i].Kind = ChangeReencrypted
		}
	}
}

// authenticated reports whether the file proves change c (weakSame: the
// names no ciphertext binds are the recorded ones): an encrypted value,
// encrypted when recorded too, at a name its ciphertext binds or while no
// weak name moved; a value filled at a name its ciphertext binds; an
// encrypted value removed while no weak name moved. Nothing else.
func authenticated(c pending, weakSame bool) bool {
	switch c.Kind {
	case ChangeAdded, ChangeModified, ChangeReencrypted:
		return !c.now.weak && !c.was.weak && (c.now.bound || weakSame)
	case ChangeFilled:
		return !c.now.weak && c.now.bound
	case ChangeRemoved:
		return !c.was.weak && weakSame
	}
	return false
}
