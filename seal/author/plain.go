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

// Import adds every value of a plaintext dotenv or YAML document (of the
// bundle's store) to the bundle. Dotenv input follows the usual .env
// conventions: "export " prefixes, single quotes (literal), double quotes
// (with \n, \t, \" and \\ escapes, may span lines), "#" comments, which are
// kept as encrypted comments. Errors give line numbers, never values.
func (b *Bundle) Import(plain []byte) error {
	var br sops.TreeBranch
	switch b.format {
	case seal.FormatDotenv:
		var err error
		if br, err = parseDotenvPlain(plain); err != nil {
			return err
		}
	case seal.FormatYAML, seal.FormatJSON:
		st, _ := storeFor(b.format)
		branches, err := st.LoadPlainFile(plain)
		if err != nil {
			return fmt.Errorf("invalid %s: %s", b.format, safeReason(err))
		}
		if len(branches) > 1 {
			return errors.New("multi-document input is not supported")
		}
		if len(branches) == 1 {
			br = branches[0]
		}
	}
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

// parseDotenvPlain reads a user's .env file.
func parseDotenvPlain(data []byte) (sops.TreeBranch, error) {
	var br sops.TreeBranch
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			br = append(br, sops.TreeItem{Key: sops.Comment{Value: strings.TrimPrefix(line, "#")}})
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return nil, fmt.Errorf("line %d: not KEY=VALUE", n)
		}
		key := strings.TrimSpace(line[:eq])
		if err := seal.CheckName(key); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rest := strings.TrimLeft(line[eq+1:], " \t")
		var val string
		switch {
		case strings.HasPrefix(rest, `"`):
			var sb strings.Builder
			s := rest[1:]
			closed := false
			for !closed {
				for j := 0; j < len(s); j++ {
					c := s[j]
					if c == '\\' && j+1 < len(s) {
						j++
						switch s[j] {
						case 'n':
							sb.WriteByte('\n')
						case 't':
							sb.WriteByte('\t')
						case 'r':
							sb.WriteByte('\r')
						default:
							sb.WriteByte(s[j])
						}
						continue
					}
					if c == '"' {
						if tail := strings.TrimSpace(s[j+1:]); tail != "" && !strings.HasPrefix(tail, "#") {
							return nil, fmt.Errorf("line %d: unexpected text after closing quote", n)
						}
						closed = true
						break
					}
					sb.WriteByte(c)
				}
				if !closed {
					i++
					if i >= len(lines) {
						return nil, fmt.Errorf("line %d: unterminated double quote", n)
					}
					sb.WriteByte('\n')
					s = strings.TrimSuffix(lines[i], "\r")
				}
			}
			val = sb.String()
		case strings.HasPrefix(rest, "'"):
			end := strings.IndexByte(rest[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated single quote", n)
			}
			val = rest[1 : 1+end]
		default:
			if k := strings.Index(rest, " #"); k >= 0 {
				rest = rest[:k]
			}
			val = strings.TrimSpace(rest)
		}
		br = append(br, sops.TreeItem{Key: key, Value: val})
	}
	return br, nil
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

var lineNo = regexp.MustCompile(`line (\d+)`)

// safeReason reduces a parser error about plaintext input to its line
// number: parsers quote the offending input, which may be a secret.
func safeReason(err error) string {
	if m := lineNo.FindStringSubmatch(err.Error()); m != nil {
		return "syntax error at line " + m[1]
	}
	return "syntax error"
}
