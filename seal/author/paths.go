package author

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/getsops/sops/v3"

	"github.com/sealenv/sealenv/seal"
)

// A value of a YAML or JSON bundle may sit inside maps and lists. A person
// names it by its dotted path, as sealenv show lists it: "db.password",
// "hosts.0" (list items by their index). The environment name is the same
// path joined with "_" (db_password), which is accepted too when it names a
// nested value. Top-level names have no dot, so a dotted name is never
// ambiguous.

// ErrNotScalar is matched by the error of a write that would replace a map
// or a list with a single value, which would silently drop everything
// inside it (a *[NotScalarError]).
var ErrNotScalar = errors.New("holds nested keys")

// NotScalarError names the map or list a write would have replaced, and
// the values inside it.
type NotScalarError struct {
	Name string // the map's or list's dotted name
	msg  string
}

func (e *NotScalarError) Error() string { return e.msg }
func (e *NotScalarError) Unwrap() error { return ErrNotScalar }

// ErrNoListItem is returned by Set for a list index that does not exist: a
// list item is added by editing the list.
var ErrNoListItem = errors.New("no such list item")

// node is a place in the tree: its value, and how to replace or remove it.
type node struct {
	get    func() any
	set    func(any)
	remove func()
	path   []string // map keys from the root (the encryption rules use them)
	dotted string
}

// root is the top-level map of the bundle.
func (b *Bundle) root() node {
	return node{
		get: func() any { return b.tree.Branches[0] },
		set: func(v any) { b.tree.Branches[0] = v.(sops.TreeBranch) },
	}
}

// child finds seg inside n: a key of a map, or an index of a list (comments
// in lists do not count). ok is false when there is no such child.
func child(n node, seg string) (node, bool) {
	switch v := n.get().(type) {
	case sops.TreeBranch:
		for i := range v {
			if k, isKey := v[i].Key.(string); !isKey || k != seg {
				continue
			}
			return node{
				get: func() any { return n.get().(sops.TreeBranch)[i].Value },
				set: func(x any) { n.get().(sops.TreeBranch)[i].Value = x },
				remove: func() {
					br := n.get().(sops.TreeBranch)
					n.set(append(br[:i:i], br[i+1:]...))
				},
				path:   append(n.path[:len(n.path):len(n.path)], seg),
				dotted: join(n.dotted, seg),
			}, true
		}
	case []any:
		want, err := strconv.Atoi(seg)
		if err != nil || want < 0 || strconv.Itoa(want) != seg {
			return node{}, false
		}
		idx := 0
		for j := range v {
			if _, c := v[j].(sops.Comment); c {
				continue
			}
			if idx == want {
				return node{
					get: func() any { return n.get().([]any)[j] },
					set: func(x any) { n.get().([]any)[j] = x },
					remove: func() {
						l := n.get().([]any)
						n.set(append(l[:j:j], l[j+1:]...))
					},
					path:   n.path,
					dotted: join(n.dotted, seg),
				}, true
			}
			idx++
		}
	}
	return node{}, false
}

func join(parent, seg string) string {
	if parent == "" {
		return seg
	}
	return parent + "." + seg
}

// envName is the environment name of a dotted path.
func envName(dotted string) string { return strings.ReplaceAll(dotted, ".", "_") }

// Leaf is one value of a bundle: its dotted path and its environment name.
type Leaf struct {
	Path string // "db.password"; the key itself at the top level
	Env  string // "db_password"
}

// Leaves lists every value of the bundle, nested ones included, in file
// order; the metadata key is not among them.
func (b *Bundle) Leaves() []Leaf {
	var out []Leaf
	mk := b.metaKey()
	var walk func(v any, dotted string)
	walk = func(v any, dotted string) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, it := range v {
				if k, ok := it.Key.(string); ok {
					walk(it.Value, join(dotted, k))
				}
			}
		case []any:
			i := 0
			for _, item := range v {
				if _, c := item.(sops.Comment); c {
					continue
				}
				walk(item, join(dotted, strconv.Itoa(i)))
				i++
			}
		default:
			out = append(out, Leaf{Path: dotted, Env: envName(dotted)})
		}
	}
	for _, it := range b.tree.Branches[0] {
		if k, ok := it.Key.(string); ok && k != mk {
			walk(it.Value, k)
		}
	}
	return out
}

// find locates the value a person named: a top-level key, a dotted path,
// or the environment name of a nested value. With create, the missing
// maps on the way to a dotted path are made (in a YAML or JSON bundle) and
// the last step may be a new key; nothing is changed unless the returned
// node is set.
func (b *Bundle) find(name string, create bool) (node, bool, error) {
	if !strings.Contains(name, ".") {
		if n, ok := child(b.root(), name); ok {
			return n, true, nil
		}
		// The environment name of a nested value.
		if strings.Contains(name, "_") {
			for _, l := range b.Leaves() {
				if l.Env == name && l.Path != name {
					return b.find(l.Path, false)
				}
			}
		}
		if !create {
			return node{}, false, nil
		}
		return node{
			set: func(v any) {
				br := b.tree.Branches[0]
				b.tree.Branches[0] = append(br, sops.TreeItem{Key: name, Value: v})
			},
			path:   []string{name},
			dotted: name,
		}, false, nil
	}
	if b.format == seal.FormatDotenv {
		return node{}, false, fmt.Errorf("%w: %q: a dotenv bundle has no nested keys (dotted names are for YAML and JSON bundles)", seal.ErrInvalidName, name)
	}
	segs := strings.Split(name, ".")
	for _, s := range segs {
		if s == "" {
			return node{}, false, fmt.Errorf("%w: %q has an empty part", seal.ErrInvalidName, name)
		}
	}
	n := b.root()
	for i, seg := range segs {
		next, ok := child(n, seg)
		if ok {
			if i < len(segs)-1 {
				if _, leaf := scalar(next.get()); leaf {
					return node{}, false, fmt.Errorf("%s is a value, not a map or a list: %s does not exist", next.dotted, name)
				}
			}
			n = next
			continue
		}
		if !create {
			return node{}, false, nil
		}
		if _, isList := n.get().([]any); isList {
			return node{}, false, fmt.Errorf("%w: %s is a list without an item %s", ErrNoListItem, n.dotted, seg)
		}
		// Make the rest of the path as maps of one key each.
		parent := n
		rest := segs[i:]
		for _, r := range rest {
			if _, err := strconv.Atoi(r); err == nil {
				return node{}, false, fmt.Errorf("%w: %q: a new key cannot be a number (that names a list item)", seal.ErrInvalidName, name)
			}
		}
		return node{
			set: func(v any) {
				for j := len(rest) - 1; j > 0; j-- {
					v = sops.TreeBranch{sops.TreeItem{Key: rest[j], Value: v}}
				}
				br := parent.get().(sops.TreeBranch)
				parent.set(append(br, sops.TreeItem{Key: rest[0], Value: v}))
			},
			path:   append(append([]string{}, parent.path...), rest...),
			dotted: name,
		}, false, nil
	}
	return n, true, nil
}

// Has reports whether the bundle holds name (a value, a map or a list),
// named as [Bundle.Get] takes it.
func (b *Bundle) Has(name string) bool {
	_, ok, err := b.find(name, false)
	return err == nil && ok
}

// scalar reports whether v is a single value (not a map or a list), and
// its text.
func scalar(v any) (string, bool) {
	switch v.(type) {
	case sops.TreeBranch, []any:
		return "", false
	}
	return valueText(v)
}

// nestedError names the values inside the map or list at n, which a write
// of one value would drop.
func nestedError(n node) error {
	kind := "a map"
	if _, ok := n.get().([]any); ok {
		kind = "a list"
	}
	var names []string
	var walk func(v any, dotted string)
	walk = func(v any, dotted string) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, it := range v {
				if k, ok := it.Key.(string); ok {
					walk(it.Value, join(dotted, k))
				}
			}
		case []any:
			i := 0
			for _, item := range v {
				if _, c := item.(sops.Comment); c {
					continue
				}
				walk(item, join(dotted, strconv.Itoa(i)))
				i++
			}
		default:
			names = append(names, dotted)
		}
	}
	walk(n.get(), n.dotted)
	list := strings.Join(names, ", ")
	if len(names) > 8 {
		list = strings.Join(names[:8], ", ") + fmt.Sprintf(" and %d more", len(names)-8)
	}
	if len(names) == 0 {
		list = "nothing yet"
	}
	return &NotScalarError{Name: n.dotted, msg: fmt.Sprintf("%s is %s that %s (%s): a single value would replace them all; name one of them (%s), or remove %s first", n.dotted, kind, ErrNotScalar, list, firstOr(names, n.dotted+".KEY"), n.dotted)}
}

func firstOr(names []string, alt string) string {
	if len(names) > 0 {
		return names[0]
	}
	return alt
}

// top is the top-level key of a dotted path: the key whose metadata the
// value shares.
func top(dotted string) string {
	k, _, _ := strings.Cut(dotted, ".")
	return k
}
