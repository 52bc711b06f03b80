package policies

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/internal/fsutil"
)

// Dir is the directory a command generator runs in: the directory of the
// policy file it is in ("" for a generator made outside a policy).
func (g *Generator) Dir() string { return g.root }

// Files returns the files of the repository that the generator's command
// names, as slash paths relative to the policy's directory, sorted: every
// word of the command that is a regular file under that directory
// (./gen.sh, scripts/new-token.py), also inside a quoted script (sh -c
// 'python3 gen.py'). Programs found on PATH and files
// outside the directory are not the repository's and are not listed.
func (g *Generator) Files() []string {
	if g == nil || g.Command == "" || g.root == "" {
		return nil
	}
	var out []string
	words := commandWords(g.Command)
	for i := 0; i < len(words); i++ {
		w := words[i]
		// A quoted script (sh -c 'python3 gen.py') is split again, for
		// the files it names.
		if strings.ContainsAny(w, " \t\n;|&<>()'\"") && len(words) < 4096 {
			words = append(words, commandWords(w)...)
			continue
		}
		if w == "" || strings.HasPrefix(w, "-") || strings.ContainsAny(w, "$`*?[~") {
			continue
		}
		rel := filepath.Clean(filepath.FromSlash(w))
		if filepath.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		if fi, err := os.Stat(filepath.Join(g.root, rel)); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if s := filepath.ToSlash(rel); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// commandWords splits a shell command into words, roughly as sh does:
// blanks and the operators ; | & < > ( ) separate words, and quotes group.
// It only has to find the words that name files.
func commandWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	quote := byte(0)
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
		case c == '\\' && i+1 < len(cmd):
			i++
			cur.WriteByte(cmd[i])
		case strings.IndexByte(" \t\n;|&<>()", c) >= 0:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return words
}

// Pin returns the digest that pins the generator's command: SHA-256 over
// the command's text and, for each file of [Generator.Files], its path and
// the SHA-256 of its content. It changes when the command, a file it names
// or the set of those files changes.
func (g *Generator) Pin() (string, error) {
	files := map[string][]byte{}
	for _, f := range g.Files() {
		data, err := os.ReadFile(filepath.Join(g.root, filepath.FromSlash(f)))
		if err != nil {
			return "", fmt.Errorf("generator: reading %s: %v", f, err)
		}
		files[f] = data
	}
	return PinOf(g.Command, files), nil
}

// PinOf is the digest of [Generator.Pin] for a command and the content of
// the files it names (slash paths relative to the policy's directory).
func PinOf(command string, files map[string][]byte) string {
	h := sha256.New()
	h.Write([]byte("sealenv generator pin v1\x00"))
	h.Write([]byte(command))
	h.Write([]byte{0})
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		sum := sha256.Sum256(files[f])
		fmt.Fprintf(h, "%s\x00%x\x00", f, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrGeneratorNotPinned matches the [*PinError] of a command with no
// sha256 in the policy.
var ErrGeneratorNotPinned = errors.New("the generator command is not pinned in the policy")

// PinError is why [Generator.Verify] refuses to run a command: it has no
// pin (Pinned is ""), or the command or a file it names changed since the
// pin was written.
type PinError struct {
	Dir     string // the policy's directory, where the files are
	Command string
	Files   []string // the files the command names now
	Pinned  string   // the digest the policy records
	Now     string   // the digest of the command and files as they are
}

func (e *PinError) Error() string {
	what := fmt.Sprintf("generator command %q", e.Command)
	if len(e.Files) > 0 {
		what += " (files " + strings.Join(e.Files, ", ") + ")"
	}
	if e.Pinned == "" {
		return what + " is not pinned: the policy has no sha256 for it"
	}
	return fmt.Sprintf("%s changed since it was pinned: sha256 %s in the policy, %s now", what, shortDigest(e.Pinned), shortDigest(e.Now))
}

// Is makes an unpinned command match [ErrGeneratorNotPinned].
func (e *PinError) Is(target error) bool { return target == ErrGeneratorNotPinned && e.Pinned == "" }

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// Verify checks a command generator against its pin: nil when the
// command and the files it names are as pinned, else a [*PinError]. A
// generator without a command needs no pin.
func (g *Generator) Verify() error {
	if g == nil || g.Command == "" {
		return nil
	}
	now, err := g.Pin()
	if err != nil {
		return err
	}
	if g.SHA256 == now {
		return nil
	}
	return &PinError{Dir: g.root, Command: g.Command, Files: g.Files(), Pinned: g.SHA256, Now: now}
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Pinned is a generator [PinGenerators] wrote a pin for.
type Pinned struct {
	Where   string // "keys.NAME" or "defaults"
	Command string
	Files   []string
	SHA256  string
	Changed bool // the pin was missing or different
}

// PinGenerators writes the pin (sha256) of every command generator of the
// policy at path, or of those of keys (names under keys:, or "defaults"),
// into the file: a one-line change per generator, the rest of the file
// kept byte for byte, written atomically. It returns what it pinned.
func PinGenerators(path string, keys []string) ([]Pinned, error) {
	p, err := Load(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	type target struct {
		where string
		g     *Generator
		node  *yaml.Node // the generator mapping
	}
	var targets []target
	if p.Defaults.Generator != nil && p.Defaults.Generator.Command != "" {
		targets = append(targets, target{"defaults", p.Defaults.Generator, mapValue(mapValue(doc.Content[0], "defaults"), "generator")})
	}
	names := make([]string, 0, len(p.Keys))
	for name := range p.Keys {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if r := p.Keys[name]; r.Generator != nil && r.Generator.Command != "" {
			targets = append(targets, target{"keys." + name, r.Generator, mapValue(mapValue(mapValue(doc.Content[0], "keys"), name), "generator")})
		}
	}
	for _, k := range keys {
		if !slices.ContainsFunc(targets, func(t target) bool { return t.where == "keys."+k || t.where == k }) {
			return nil, fmt.Errorf("%s: no command generator for %s (keys: %s.generator.command)", path, k, k)
		}
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	type edit struct {
		line, col int // 1-based, where to insert or replace
		cut       int // bytes to replace (0: insert)
		text      string
	}
	var edits []edit
	var done []Pinned
	for _, t := range targets {
		if len(keys) > 0 && !slices.ContainsFunc(keys, func(k string) bool { return t.where == "keys."+k || t.where == k }) {
			continue
		}
		if t.node == nil || t.node.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: %s.generator is not a mapping", path, t.where)
		}
		sum, err := t.g.Pin()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, t.where, err)
		}
		done = append(done, Pinned{Where: t.where, Command: t.g.Command, Files: t.g.Files(), SHA256: sum, Changed: sum != t.g.SHA256})
		if sum == t.g.SHA256 {
			continue
		}
		if old := mapValue(t.node, "sha256"); old != nil {
			width := len(old.Value)
			if old.Style == yaml.DoubleQuotedStyle || old.Style == yaml.SingleQuotedStyle {
				width += 2
			}
			edits = append(edits, edit{old.Line, old.Column, width, sum})
			continue
		}
		cmdKey := mapKey(t.node, "command")
		if t.node.Style&yaml.FlowStyle != 0 {
			edits = append(edits, edit{cmdKey.Line, cmdKey.Column, 0, "sha256: " + sum + ", "})
		} else {
			edits = append(edits, edit{cmdKey.Line, cmdKey.Column, 0, "sha256: " + sum + "\n" + strings.Repeat(" ", cmdKey.Column-1)})
		}
	}
	// Apply from the end, so earlier positions stay valid.
	slices.SortFunc(edits, func(a, b edit) int {
		if a.line != b.line {
			return b.line - a.line
		}
		return b.col - a.col
	})
	for _, e := range edits {
		if e.line < 1 || e.line > len(lines) {
			return nil, fmt.Errorf("%s: line %d is out of the file", path, e.line)
		}
		l := lines[e.line-1]
		at := byteColumn(l, e.col)
		if at < 0 || at+e.cut > len(l) {
			return nil, fmt.Errorf("%s:%d: cannot place the pin", path, e.line)
		}
		nl := append(append(append([]byte{}, l[:at]...), e.text...), l[at+e.cut:]...)
		lines[e.line-1] = nl
	}
	out := bytes.Join(lines, nil)
	if len(edits) == 0 {
		return done, nil
	}
	// What is written must load and carry the pins just computed.
	check, err := Parse(path, out)
	if err != nil {
		return nil, fmt.Errorf("%s: the pinned policy would not load (nothing written): %v", path, err)
	}
	for _, d := range done {
		g := check.Defaults.Generator
		if name, ok := strings.CutPrefix(d.Where, "keys."); ok {
			g = check.Keys[name].Generator
		}
		if g == nil || g.SHA256 != d.SHA256 {
			return nil, fmt.Errorf("%s: %s: the pin did not land where expected (nothing written)", path, d.Where)
		}
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := fsutil.WriteFileAtomic(path, out, mode); err != nil {
		return nil, err
	}
	return done, nil
}

// mapKey and mapValue find key in a mapping node (nil when absent).
func mapKey(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// byteColumn turns yaml's 1-based column (in characters) into a byte
// offset in line.
func byteColumn(line []byte, col int) int {
	i := 0
	for c := 1; c < col; c++ {
		if i >= len(line) {
			return -1
		}
		_, size := utf8.DecodeRune(line[i:])
		i += size
	}
	return i
}
