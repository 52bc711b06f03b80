package author

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/stores/dotenv"

	"github.com/sealenv/sealenv/seal"
)

// Import adds every value of a plaintext dotenv, YAML or JSON document (of
// the bundle's store) to the bundle; dotenv input is read in dialect d
// (see [Dialect]; [DialectAuto] reads a file only where the dialects
// agree). Comments are kept as encrypted comments. Errors give line
// numbers and key names, never values. notes is kept for callers; it is
// empty now that every dialect reads exactly what its tool reads.
func (b *Bundle) Import(plain []byte, d Dialect) (notes []string, err error) {
	var br sops.TreeBranch
	switch b.format {
	case seal.FormatDotenv:
		es, err := readDotenv(plain, d)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.comment {
				br = append(br, sops.TreeItem{Key: sops.Comment{Value: e.key}})
			} else {
				br = append(br, sops.TreeItem{Key: e.key, Value: e.value})
			}
		}
	case seal.FormatYAML, seal.FormatJSON:
		st, _ := storeFor(b.format)
		branches, err := st.LoadPlainFile(plain)
		if err != nil {
			return nil, fmt.Errorf("invalid %s: %s", b.format, safeReason(err))
		}
		if len(branches) > 1 {
			return nil, errors.New("multi-document input is not supported")
		}
		if len(branches) == 1 {
			br = branches[0]
		}
	}
	return nil, b.importBranch(br)
}

// importBranch adds the items of a plaintext tree to the bundle.
func (b *Bundle) importBranch(br sops.TreeBranch) error {
	now := b.Now()
	have := make(map[string]bool, len(b.tree.Branches[0])+len(br))
	for _, it := range b.tree.Branches[0] {
		if k, ok := it.Key.(string); ok {
			have[k] = true
		}
	}
	for _, it := range br {
		if _, ok := it.Key.(sops.Comment); ok {
			b.tree.Branches[0] = append(b.tree.Branches[0], it)
			continue
		}
		name, ok := it.Key.(string)
		if !ok {
			return errors.New("a top-level key is not a string")
		}
		if name == "sops" || strings.HasPrefix(name, "sops_") {
			return errors.New("input is already sealed (it has sops metadata)")
		}
		if name == seal.MetaKey || name == b.metaKey() {
			return fmt.Errorf("%s is reserved for sealenv metadata", name)
		}
		if have[name] {
			return fmt.Errorf("duplicate key %q", name)
		}
		have[name] = true
		if s, ok := it.Value.(string); ok {
			if err := b.CheckValue(name, []byte(s)); err != nil {
				return err
			}
		}
		b.tree.Branches[0] = append(b.tree.Branches[0], it)
		b.meta[name] = seal.KeyMeta{Set: now}
	}
	return nil
}

// PlainText renders the decrypted bundle in its store's plaintext form,
// exactly as sops does (dotenv: KEY=value with newlines as \n; YAML with
// comments), without the metadata key. For `sealenv edit`: it belongs in
// memory-backed storage only.
func (b *Bundle) PlainText() ([]byte, error) {
	st, _ := storeFor(b.format)
	out, err := st.EmitPlainFile(sops.TreeBranches{copyBranch(b.tree.Branches[0])})
	if err != nil {
		return nil, errors.New("rendering plaintext: " + firstLine(err))
	}
	return out, nil
}

// ReplacePlain replaces the bundle's values with an edited plaintext (the
// form [Bundle.PlainText] writes). Keys whose value changed or that are new
// get a new set time; removed keys lose their metadata. It returns the names
// that changed.
func (b *Bundle) ReplacePlain(plain []byte) ([]string, error) {
	st, _ := storeFor(b.format)
	if b.format == seal.FormatDotenv {
		// sops' dotenv parser quotes a bad line in its error; check first
		// and name the line number only.
		for i, line := range bytes.Split(plain, []byte("\n")) {
			if len(line) > 0 && line[0] != '#' && !bytes.Contains(line, []byte("=")) {
				return nil, fmt.Errorf("line %d: not KEY=VALUE", i+1)
			}
		}
	}
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		return nil, errors.New("invalid " + b.format.String() + ": " + safeReason(err))
	}
	if len(branches) != 1 {
		return nil, errors.New("want exactly one document")
	}
	if _, ok := st.(*dotenv.Store); ok && bytes.Contains(plain, []byte("\x00")) {
		return nil, errors.New("NUL byte in input")
	}
	old := map[string]any{}
	for _, it := range b.tree.Branches[0] {
		if k, ok := it.Key.(string); ok {
			old[k] = it.Value
		}
	}
	now := b.Now()
	var changed []string
	seen := map[string]bool{}
	for _, it := range branches[0] {
		k, ok := it.Key.(string)
		if !ok {
			continue
		}
		if k == "sops" || strings.HasPrefix(k, "sops_") || k == seal.MetaKey || k == b.metaKey() {
			return nil, fmt.Errorf("key %q is reserved", k)
		}
		if seen[k] {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		if s, ok := it.Value.(string); ok {
			if err := b.CheckValue(k, []byte(s)); err != nil {
				return nil, err
			}
		}
		if prev, ok := old[k]; !ok || !reflect.DeepEqual(prev, it.Value) {
			changed = append(changed, k)
			km := b.meta[k]
			km.Set = now
			km.GraceOf, km.Expires = "", nil
			b.meta[k] = km
		}
	}
	for k := range old {
		if !seen[k] {
			changed = append(changed, k)
			delete(b.meta, k)
		}
	}
	b.tree.Branches[0] = branches[0]
	return changed, nil
}

// Checkpoint remembers the bundle's values and metadata; the function it
// returns puts them back, undoing every change made since (sealenv edit
// undoes an edit the bundle cannot be written with, and asks again).
func (b *Bundle) Checkpoint() (restore func()) {
	tree := copyBranch(b.tree.Branches[0])
	meta := b.Meta()
	return func() {
		b.tree.Branches[0] = tree
		b.meta = meta
	}
}

var lineNo = regexp.MustCompile(`line (\d+)`)

// safeReason reduces a parser error about plaintext input to its line
// number: parsers quote the offending input, which may be a secret.
func safeReason(err error) string {
	if m := lineNo.FindStringSubmatch(err.Error()); m != nil {
		return "syntax error at line " + m[1]
	}
	return "syntax error"
}
