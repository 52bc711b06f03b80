package author

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getsops/sops/v3"

	"github.com/sealenv/sealenv/seal"
)

// Names lists the top-level keys in order.
func (b *Bundle) Names() []string {
	var out []string
	for _, it := range b.tree.Branches[0] {
		if k, ok := it.Key.(string); ok {
			out = append(out, k)
		}
	}
	return out
}

// Get returns a value as text: name is a top-level key, a dotted path
// ("db.password") or the environment name of a nested value. A map or a
// list is not a value (false).
func (b *Bundle) Get(name string) (string, bool) {
	n, ok, err := b.find(name, false)
	if err != nil || !ok {
		return "", false
	}
	return scalar(n.get())
}

func valueText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case nil:
		return "", true
	case sops.TreeBranch, []any:
		return "", false
	default:
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
}

// CheckValue rejects values a bundle of this store cannot carry faithfully.
// The reason never includes the value.
func (b *Bundle) CheckValue(name string, value []byte) error {
	if err := seal.CheckName(name); err != nil {
		return err
	}
	if name == b.metaKey() {
		return fmt.Errorf("%w: key %q is reserved for sealenv metadata", seal.ErrInvalidName, name)
	}
	if b.stayPlain(name) {
		return fmt.Errorf("%w: %s would be stored unencrypted by this bundle's sops rules", seal.ErrInvalidName, name)
	}
	if !utf8.Valid(value) {
		return fmt.Errorf("value of %s is not valid UTF-8", name)
	}
	if strings.ContainsRune(string(value), 0) {
		return fmt.Errorf("value of %s contains a NUL byte, which no environment variable can hold", name)
	}
	if b.format == seal.FormatDotenv && strings.Contains(string(value), `\n`) {
		return fmt.Errorf(`value of %s contains a literal \n, which the dotenv store cannot represent; use a YAML bundle`, name)
	}
	return nil
}

// stayPlain reports whether the file's sops rules leave a top-level key
// unencrypted.
func (b *Bundle) stayPlain(name string) bool {
	md := b.tree.Metadata
	switch {
	case md.UnencryptedSuffix != "":
		return strings.HasSuffix(name, md.UnencryptedSuffix)
	case md.EncryptedSuffix != "":
		return !strings.HasSuffix(name, md.EncryptedSuffix)
	case md.UnencryptedRegex != "":
		ok, _ := regexp.MatchString(md.UnencryptedRegex, name)
		return ok
	case md.EncryptedRegex != "":
		ok, _ := regexp.MatchString(md.EncryptedRegex, name)
		return !ok
	}
	return false
}

// Set stores value under name (a top-level key, a dotted path such as
// "db.password", or the environment name of a nested value) and records
// the time in metadata; nested values share the metadata of their
// top-level key. Maps missing on a dotted path are made. It never replaces
// a map or a list: that is an error matching [ErrNotScalar] that names
// the values inside.
func (b *Bundle) Set(name string, value []byte) error {
	n, exists, err := b.find(name, true)
	if err != nil {
		return err
	}
	if exists {
		if _, ok := scalar(n.get()); !ok {
			return nestedError(n)
		}
	}
	if err := b.checkAt(n, value); err != nil {
		return err
	}
	n.set(string(value))
	b.meta[top(n.dotted)] = seal.KeyMeta{Set: b.Now()}
	return nil
}

// checkAt is CheckValue for the value at n, nested or not.
func (b *Bundle) checkAt(n node, value []byte) error {
	if len(n.path) == 1 && n.dotted == n.path[0] {
		return b.CheckValue(n.dotted, value)
	}
	env := envName(n.dotted)
	if err := seal.CheckName(env); err != nil {
		return err
	}
	if !b.encrypts(n.path) {
		return fmt.Errorf("%w: %s would be stored unencrypted by this bundle's sops rules", seal.ErrInvalidName, n.dotted)
	}
	return b.CheckValue(env, value)
}

func (b *Bundle) setRaw(name, value string) {
	br := b.tree.Branches[0]
	for i, it := range br {
		if it.Key == name {
			br[i].Value = value
			return
		}
	}
	b.tree.Branches[0] = append(br, sops.TreeItem{Key: name, Value: value})
}

// ErrNoKey is returned for a key that is not in the bundle.
var ErrNoKey = errors.New("no such key")

// Unset removes a key (a top-level key with everything inside it, a dotted
// path, or the environment name of a nested value); a top-level key loses
// its metadata.
func (b *Bundle) Unset(name string) error {
	n, ok, err := b.find(name, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoKey, name)
	}
	n.remove()
	if !strings.Contains(n.dotted, ".") {
		delete(b.meta, n.dotted)
	}
	return nil
}

// Rotate replaces the value of name with value. With grace > 0 the old value
// is kept as name+[seal.GraceSuffix] until now+grace.
//
// name is a top-level key, a dotted path or the environment name of a
// nested value; a nested value's grace value is the top-level key of its
// environment name plus the suffix (db_password_PREVIOUS), which is the
// name the program sees either way. A map or a list is never replaced
// ([ErrNotScalar]).
func (b *Bundle) Rotate(name string, value []byte, grace time.Duration) error {
	n, ok, err := b.find(name, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoKey, name)
	}
	old, isValue := scalar(n.get())
	if !isValue {
		return nestedError(n)
	}
	if grace < 0 {
		return errors.New("grace period is negative")
	}
	if err := b.checkAt(n, value); err != nil {
		return err
	}
	now := b.Now()
	env := envName(n.dotted)
	prev := env + seal.GraceSuffix
	if grace > 0 {
		if p, ok, _ := b.find(prev, false); ok {
			if _, isValue := scalar(p.get()); !isValue {
				return nestedError(p)
			}
		}
		if err := b.CheckValue(prev, []byte(old)); err != nil {
			return err
		}
		b.setRaw(prev, old)
		exp := now.Add(grace)
		b.meta[prev] = seal.KeyMeta{Set: now, GraceOf: env, Expires: &exp}
	}
	n.set(string(value))
	b.meta[top(n.dotted)] = seal.KeyMeta{Set: now}
	return nil
}

// encrypts reports whether the file's rules encrypt the value at path, as
// sops decides it.
func (b *Bundle) encrypts(path []string) bool {
	md := b.tree.Metadata
	for _, k := range path {
		switch {
		case md.UnencryptedSuffix != "" && strings.HasSuffix(k, md.UnencryptedSuffix):
			return false
		case md.EncryptedSuffix != "" && strings.HasSuffix(k, md.EncryptedSuffix):
			return true
		}
		if md.UnencryptedRegex != "" {
			if ok, _ := regexp.MatchString(md.UnencryptedRegex, k); ok {
				return false
			}
		}
		if md.EncryptedRegex != "" {
			if ok, _ := regexp.MatchString(md.EncryptedRegex, k); ok {
				return true
			}
		}
	}
	return md.EncryptedSuffix == "" && md.EncryptedRegex == ""
}
