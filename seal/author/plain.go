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

// Dialect is how [Bundle.Import] reads dotenv input.
type Dialect int

const (
	// DialectSops reads dotenv exactly as sops does (its dotenv store):
	// KEY=VALUE with everything after the first "=" up to the end of the
	// line as the value, quotes included, "\n" as a newline, and "#" at the
	// start of a line as a comment. sops encrypt gives the same values.
	DialectSops Dialect = iota
	// DialectShell reads the dialect most .env tools read (docker compose,
	// python-dotenv): "export " prefixes, single quotes (literal), double
	// quotes (with \n, \t, \" and \\ escapes, may span lines), " #"
	// comments after unquoted values, surrounding spaces trimmed.
	DialectShell
)

// Import adds every value of a plaintext dotenv, YAML or JSON document (of
// the bundle's store) to the bundle; dotenv input is read in dialect d.
// Comments are kept as encrypted comments. It returns notes about input
// that the dialect reads differently than a person might expect (quotes
// kept by the sops dialect, a carriage return at a line's end). Errors
// and notes give line numbers and key names, never values.
func (b *Bundle) Import(plain []byte, d Dialect) (notes []string, err error) {
	var br sops.TreeBranch
	switch b.format {
	case seal.FormatDotenv:
		if d == DialectShell {
			br, err = parseDotenvPlain(plain)
		} else {
			br, notes, err = parseDotenvSops(plain)
		}
		if err != nil {
			return nil, err
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
	return notes, b.importBranch(br)
}

// parseDotenvSops reads dotenv as sops's dotenv store does
// (LoadPlainFile), without quoting a line in an error.
func parseDotenvSops(data []byte) (sops.TreeBranch, []string, error) {
	var br sops.TreeBranch
	var notes []string
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if line == "" {
			continue
		}
		if line[0] == '#' {
			br = append(br, sops.TreeItem{Key: sops.Comment{Value: line[1:]}})
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, nil, fmt.Errorf("line %d: not KEY=VALUE", n)
		}
		if err := seal.CheckName(key); err != nil {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(key), "export "); ok && seal.ValidName(strings.TrimSpace(rest)) {
				return nil, nil, fmt.Errorf("line %d: %q is not a key name in the sops dialect (sops would keep \"export \" in the name); the input is a shell .env: read it with the shell dialect", n, key)
			}
			if seal.ValidName(strings.TrimSpace(key)) {
				return nil, nil, fmt.Errorf("line %d: key %q has spaces around it, which the sops dialect keeps; the input is a shell .env: read it with the shell dialect", n, key)
			}
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			notes = append(notes, fmt.Sprintf("line %d: the value of %s keeps its quotes, as sops does; the shell dialect would remove them", n, key))
		}
		if strings.HasSuffix(val, "\r") {
			notes = append(notes, fmt.Sprintf("line %d: the value of %s ends in a carriage return (Windows line ending), which sops keeps", n, key))
		}
		br = append(br, sops.TreeItem{Key: key, Value: strings.ReplaceAll(val, `\n`, "\n")})
	}
	return br, notes, nil
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
