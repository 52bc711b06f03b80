package author

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/version"

	"github.com/sealenv/sealenv/seal"
)

// Marshal encrypts the bundle into SOPS file bytes.
func (b *Bundle) Marshal() ([]byte, error) {
	now := b.Now().UTC()
	b.dropExpired(now)
	tree := sops.Tree{Metadata: b.tree.Metadata, Branches: sops.TreeBranches{copyBranch(b.tree.Branches[0])}}
	for _, br := range b.tree.Branches[1:] {
		tree.Branches = append(tree.Branches, copyBranch(br))
	}
	// Every top-level key is recorded, so the reader can authenticate the
	// names of empty values (see seal.Open); a key added by plain sops gets
	// an unknown (zero) set time.
	for _, it := range tree.Branches[0] {
		if k, ok := it.Key.(string); ok {
			if _, known := b.meta[k]; !known {
				b.meta[k] = seal.KeyMeta{}
			}
		}
	}
	tree.Metadata.Version = version.Version
	// The metadata records the exact names of the values no ciphertext
	// will authenticate (empty, null, unencrypted by the rules), a digest
	// of every value's stored form and one of the wrapped data keys (see
	// seal.Record). The names are predicted from the tree, the digests
	// taken from a first rendering; the slim reader's view of the result is
	// the judge. Every rendering gives the same ciphertexts (stableCipher),
	// so the second one normally agrees.
	rec, err := b.predict(tree)
	if err != nil {
		return nil, err
	}
	for pass := 0; ; pass++ {
		out, err := b.emit(tree, now, rec)
		if err != nil {
			return nil, err
		}
		// Everything written must be readable by the slim reader: this
		// rejects invalid or duplicate environment names (also after YAML
		// flattening).
		inspect := seal.Inspect
		if b.anyNames {
			inspect = seal.InspectAnyNames // other such names may wait for their own write
		}
		info, err := inspect(b.format, out)
		if err != nil {
			return nil, err
		}
		got := info.Current
		if sameRecord(got, rec) {
			if len(info.Unauthenticated) > 0 || len(info.Changes) > 0 {
				return nil, fmt.Errorf("internal error: a fresh rendering differs from its own record (%s)", seal.DescribeChanges(info.Changes))
			}
			return out, nil
		}
		if pass > 1 {
			return nil, errors.New("internal error: the record of the values changed between renderings")
		}
		rec = got
	}
}

func sameRecord(a, b seal.Record) bool {
	if a.Wrapped != b.Wrapped || len(a.Sums) != len(b.Sums) || !slices.Equal(sorted(a.Weak), sorted(b.Weak)) {
		return false
	}
	for k, v := range a.Sums {
		if w, ok := b.Sums[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// predict encrypts a copy of tree (the stable cipher remembers every
// ciphertext, so the rendering that follows gives the same ones) and
// returns what the metadata must record of it: the flattened names of the
// values no ciphertext will authenticate (empty and null values, and
// values the file's rules leave unencrypted), a digest of every value's
// stored form, and one of the wrapped data keys.
func (b *Bundle) predict(tree sops.Tree) (seal.Record, error) {
	t := sops.Tree{Metadata: tree.Metadata, Branches: sops.TreeBranches{copyBranch(tree.Branches[0])}}
	if _, err := t.Encrypt(b.key, b.cipher); err != nil {
		return seal.Record{}, fmt.Errorf("encrypting: %s", firstLine(err))
	}
	rec := seal.Record{Sums: map[string]string{}}
	var walk func(v any, path []string, name string)
	walk = func(v any, path []string, name string) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, it := range v {
				if k, ok := it.Key.(string); ok {
					walk(it.Value, append(path[:len(path):len(path)], k), name+"_"+k)
				}
			}
		case []any:
			i := 0
			for _, item := range v {
				if _, ok := item.(sops.Comment); ok {
					continue
				}
				walk(item, path, name+"_"+strconv.Itoa(i))
				i++
			}
		case sops.Comment:
		default:
			if v == nil || v == "" || !b.encrypts(path) {
				rec.Weak = append(rec.Weak, name)
			}
			if sum := seal.SumOf(v); sum != "" {
				rec.Sums[name] = sum
			}
		}
	}
	mk := b.metaKey()
	for _, it := range t.Branches[0] {
		if k, ok := it.Key.(string); ok && k != mk {
			walk(it.Value, []string{k}, k)
		}
	}
	var encs []string
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			encs = append(encs, string(k.EncryptedDataKey()))
		}
	}
	rec.Wrapped = seal.WrappedSum(encs)
	return rec, nil
}

// emit encrypts a copy of tree with the metadata key (with rec) appended.
func (b *Bundle) emit(tree sops.Tree, now time.Time, rec seal.Record) ([]byte, error) {
	t := sops.Tree{Metadata: tree.Metadata}
	for _, br := range tree.Branches {
		t.Branches = append(t.Branches, copyBranch(br))
	}
	prints, err := b.printsFor(rec)
	if err != nil {
		return nil, err
	}
	rec.Prints = prints
	t.Branches[0] = append(t.Branches[0], sops.TreeItem{Key: b.metaKey(), Value: seal.EncodeMeta(b.meta, rec)})
	mac, err := t.Encrypt(b.key, b.cipher)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %s", firstLine(err))
	}
	t.Metadata.LastModified = now.Truncate(time.Second)
	t.Metadata.MessageAuthenticationCode, err = b.cipher.Encrypt(mac, b.key, t.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("encrypting the MAC: %s", firstLine(err))
	}
	st, _ := storeFor(b.format)
	out, err := st.EmitEncryptedFile(t)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %s", b.format, firstLine(err))
	}
	return out, nil
}

// dropExpired removes grace values whose grace period has ended.
func (b *Bundle) dropExpired(now time.Time) {
	for name := range b.meta {
		if b.meta.Expired(name, now) {
			_ = b.Unset(name) // may already be gone from the tree
			delete(b.meta, name)
		}
	}
}

func copyBranch(br sops.TreeBranch) sops.TreeBranch {
	out := make(sops.TreeBranch, len(br))
	for i, it := range br {
		out[i] = sops.TreeItem{Key: it.Key, Value: copyValue(it.Value)}
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case sops.TreeBranch:
		return copyBranch(v)
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = copyValue(v[i])
		}
		return out
	}
	return v
}
