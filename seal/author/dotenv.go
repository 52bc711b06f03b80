package author

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sealenv/sealenv/seal"
)

// Tools disagree on what a line of a .env file means: docker run
// --env-file and sops keep PASSWORD="x" with its quotes, docker compose and
// python-dotenv remove them and process escapes, bash (set -a; . .env)
// removes them, keeps a backslash inside double quotes, expands $VAR and
// ~, and runs anything that is not an assignment. Each dialect below reads
// exactly what its reference tool reads, or refuses the line (never a
// guess): a value is never bent. Without a dialect ([DialectAuto]) a file
// is read only when the three agree on every line.

// Dialect is how [Bundle.Import] and [ReadDotenv] read dotenv input.
type Dialect int

const (
	// DialectAuto reads a file only when DialectLiteral, DialectCompose
	// and DialectShell read the same names and values from it; otherwise
	// it is a [*DialectError] naming the first line they read differently.
	DialectAuto Dialect = iota
	// DialectLiteral reads as docker run --env-file does (docker's
	// env-file parser): leading blanks and "#" lines skipped, NAME=VALUE
	// with everything after the first "=" kept as it is, quotes and
	// ${VAR} included; a carriage return before the newline is dropped. A
	// line without "=" (docker takes that value from its own environment)
	// is refused.
	DialectLiteral
	// DialectCompose reads as docker compose does (compose-go's dotenv
	// parser): "export " prefixes, NAME=VALUE or NAME: VALUE, single quotes
	// literal, double quotes with \n, \t, \", \\, \$ escapes and newlines,
	// " #" comments after unquoted values, blanks trimmed. Compose would
	// substitute $VAR and ${VAR} (from the environment or earlier lines):
	// such a value is refused; $$ is a literal $.
	DialectCompose
	// DialectShell reads as bash does with set -a; . FILE: NAME=WORD
	// assignments (export allowed) where WORD is unquoted text (a
	// backslash escapes the next character), 'single quoted' text and
	// "double quoted" text (a backslash escapes only $ ` " \ and a newline),
	// joined. Anything bash would expand ($, `, a leading ~) or run (a
	// second word, ; | & < > ( )) is refused.
	DialectShell
	// DialectSops reads as sops's dotenv store does (sops encrypt, and what
	// sops decrypt and sealenv reveal print): everything after the first
	// "=" up to the end of the line, quotes included, with \n as a newline.
	DialectSops
)

// Dialects lists the dialects by name, for flags and messages.
var Dialects = []string{"literal", "compose", "shell", "sops"}

// String names the dialect as --dialect takes it; "" for DialectAuto.
func (d Dialect) String() string {
	if d >= DialectLiteral && int(d) <= len(Dialects) {
		return Dialects[d-1]
	}
	return ""
}

// ParseDialect reads a dialect name; "" is DialectAuto.
func ParseDialect(s string) (Dialect, error) {
	if s == "" {
		return DialectAuto, nil
	}
	for i, n := range Dialects {
		if n == s {
			return Dialect(i + 1), nil
		}
	}
	return 0, fmt.Errorf("unknown dialect %q (want %s)", s, strings.Join(Dialects, ", "))
}

// Variable is one NAME=value read from dotenv input, with the line it
// starts on.
type Variable struct {
	Line  int
	Name  string
	Value string
}

// lineError is a refusal at a line; it never holds a value.
type lineError struct {
	line   int
	reason string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.reason) }

// DialectError is what [DialectAuto] returns for a file whose lines the
// dialects read differently: the first such line, and how each dialect
// reads it (never a value).
type DialectError struct {
	Line int
	// Note names a likely cause in the line's bytes (a carriage return
	// before the newline, a byte order mark), or is empty.
	Note string
	// Reading says, per dialect name, "refuses it: REASON", "reads no
	// value there", "refuses an earlier line" or "value N" (N numbers the
	// distinct values).
	Reading map[string]string
}

func (e *DialectError) Error() string {
	// Group the dialects that read the line the same way.
	groups := map[string][]string{}
	var order []string
	for _, d := range Dialects[:3] {
		r := e.Reading[d]
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], d)
	}
	var parts []string
	values := 0
	for _, r := range order {
		names := strings.Join(groups[r], " and ")
		verb := func(one, many string) string {
			if len(groups[r]) == 1 {
				return names + " " + one
			}
			return names + " " + many
		}
		switch {
		case strings.HasPrefix(r, "value"):
			values++
			if values == 1 {
				parts = append(parts, verb("reads one value", "read one value"))
			} else {
				parts = append(parts, verb("reads another", "read another"))
			}
		case r == readsNothing:
			parts = append(parts, verb("reads no value there", "read no value there"))
		case r == refusesEarlier:
			parts = append(parts, verb("refuses an earlier line", "refuse an earlier line"))
		default:
			parts = append(parts, verb("refuses it: ", "refuse it: ")+strings.TrimPrefix(r, refusesPrefix))
		}
	}
	note := ""
	if e.Note != "" {
		note = "; " + e.Note
	}
	return fmt.Sprintf("line %d: the dialects read this line differently (%s%s); name the one the file is written for: literal, compose or shell (docs/cli.md has a table of what each reads)", e.Line, strings.Join(parts, "; "), note)
}

// How DialectError.Reading describes a dialect's reading of the line.
const (
	readsNothing   = "reads no value there"
	refusesEarlier = "refuses an earlier line"
	refusesPrefix  = "refuses it: "
)

// ReadDotenv reads dotenv input in dialect d and returns its variables in
// order. Errors name a line and the reason, never a value; the names are
// checked with [seal.CheckName].
func ReadDotenv(data []byte, d Dialect) ([]Variable, error) {
	es, err := readDotenv(data, d)
	if err != nil {
		return nil, err // what was read before the refused line is not returned
	}
	var out []Variable
	for _, e := range es {
		if !e.comment {
			out = append(out, Variable{Line: e.line, Name: e.key, Value: e.value})
		}
	}
	return out, nil
}

// entry is a variable or a comment (key holds the comment's text).
type entry struct {
	line       int
	key, value string
	comment    bool
}

// readDotenv reads data in dialect d. A refusal is a *lineError returned
// with the entries read before the refused line.
func readDotenv(data []byte, d Dialect) ([]entry, error) {
	switch d {
	case DialectLiteral:
		return readLiteral(data)
	case DialectCompose:
		return readCompose(data)
	case DialectShell:
		return readShell(data)
	case DialectSops:
		return readSops(data)
	case DialectAuto:
		return readAuto(data)
	}
	return nil, fmt.Errorf("unknown dialect %d", d)
}

// readAuto reads data in the three dialects and returns the literal
// reading when all agree.
func readAuto(data []byte) ([]entry, error) {
	type reading struct {
		vars []entry
		err  *lineError
	}
	var rs [3]reading
	var literal []entry // with its comments, the reading returned
	for i, d := range []Dialect{DialectLiteral, DialectCompose, DialectShell} {
		es, err := readDotenv(data, d) // with an error: what it read before the refused line
		if i == 0 {
			literal = es
		}
		if err != nil {
			var le *lineError
			if !errors.As(err, &le) {
				return nil, err
			}
			rs[i].err = le
		}
		for _, e := range es {
			if !e.comment {
				rs[i].vars = append(rs[i].vars, e)
			}
		}
	}
	agree := true
	for i := 1; i < 3; i++ {
		if rs[i].err != nil || rs[0].err != nil || !slices.Equal(rs[i].vars, rs[0].vars) {
			agree = false
		}
	}
	if agree {
		return literal, nil
	}
	if rs[0].err != nil && rs[1].err != nil && rs[2].err != nil &&
		rs[0].err.line == rs[1].err.line && rs[1].err.line == rs[2].err.line {
		// No dialect reads this line: one error says why, in each.
		return nil, &lineError{line: rs[0].err.line, reason: fmt.Sprintf("no dialect reads it (literal: %s; compose: %s; shell: %s)", rs[0].err.reason, rs[1].err.reason, rs[2].err.reason)}
	}
	// The first line where the readings part: an error, or the first
	// variable that differs.
	first := -1
	consider := func(l int) {
		if first < 0 || l < first {
			first = l
		}
	}
	for i := range rs {
		if rs[i].err != nil {
			consider(rs[i].err.line)
		}
	}
	for k := 0; ; k++ {
		var at []*entry
		done := true
		for i := range rs {
			if k < len(rs[i].vars) {
				at = append(at, &rs[i].vars[k])
				done = false
			} else {
				at = append(at, nil)
			}
		}
		if done {
			break
		}
		same := true
		for i := 1; i < 3; i++ {
			if (at[i] == nil) != (at[0] == nil) || at[i] != nil && *at[i] != *at[0] {
				same = false
			}
		}
		if !same {
			for _, e := range at {
				if e != nil {
					consider(e.line)
				}
			}
			break
		}
	}
	if first < 0 {
		first = 1
	}
	de := &DialectError{Line: first, Reading: map[string]string{}}
	if lines := bytes.Split(data, []byte("\n")); first <= len(lines) {
		switch line := lines[first-1]; {
		case first == 1 && bytes.HasPrefix(line, utf8BOM):
			de.Note = "the file starts with a byte order mark, which bash reads as part of the first name"
		case bytes.HasSuffix(line, []byte("\r")):
			de.Note = "the line ends in a carriage return (Windows line endings), which bash keeps in the value and docker and compose drop"
		}
	}
	var values []string
	for i, d := range Dialects[:3] {
		r := rs[i]
		if r.err != nil && r.err.line == first {
			de.Reading[d] = refusesPrefix + r.err.reason
			continue
		}
		de.Reading[d] = readsNothing
		for _, e := range r.vars {
			if e.line == first {
				key := e.key + "=" + e.value
				n := slices.Index(values, key)
				if n < 0 {
					values = append(values, key)
					n = len(values) - 1
				}
				de.Reading[d] = fmt.Sprintf("value %d", n+1)
			}
		}
		if r.err != nil && r.err.line < first {
			de.Reading[d] = refusesEarlier
		}
	}
	return nil, de
}

// lineIndex maps byte offsets of text to line numbers.
type lineIndex []int

func newLineIndex(s string) lineIndex {
	var nl lineIndex
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

func (li lineIndex) at(off int) int { return 1 + sort.SearchInts(li, off) }

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// maxLiteralLine is the longest line docker's env-file parser reads: its
// bufio.Scanner refuses a longer one ("token too long").
const maxLiteralLine = 64*1024 - 1

// readLiteral reads as docker's env-file parser (github.com/docker/cli
// pkg/kvfile, behind docker run --env-file) does.
func readLiteral(data []byte) ([]entry, error) {
	var out []entry
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the scanner gives no empty last token
	}
	for i, raw := range lines {
		n := i + 1
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if len(raw) > maxLiteralLine {
			return out, &lineError{n, "longer than 64 KiB, which docker's env-file parser refuses"}
		}
		if !utf8.Valid(raw) {
			return out, &lineError{n, "not valid UTF-8"}
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, utf8BOM)
		}
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line == "" {
			continue
		}
		if line[0] == '#' {
			out = append(out, entry{line: n, key: line[1:], comment: true})
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		switch {
		case key == "":
			return out, &lineError{n, "no variable name before the ="}
		case strings.ContainsAny(key, " \t"):
			return out, &lineError{n, "the name has blanks in it, which docker refuses"}
		case !hasValue:
			return out, &lineError{n, fmt.Sprintf("%s has no =: docker takes its value from its own environment, and only values the file holds are sealed", safeName(key))}
		}
		if err := seal.CheckName(key); err != nil {
			return out, &lineError{n, err.Error()}
		}
		out = append(out, entry{line: n, key: key, value: value})
	}
	return out, nil
}

// safeName quotes a name for a message when it is one; anything else (a
// value typed where a name belongs) is not echoed.
func safeName(s string) string {
	if seal.ValidName(s) {
		return s
	}
	return "the name"
}

// composeSpace is compose-go's blank: space characters except the newline.
func composeSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

// readCompose reads as docker compose does (compose-go's dotenv parser,
// v2): statements, not lines, so a quoted value may span lines.
func readCompose(data []byte) ([]entry, error) {
	src := string(bytes.TrimPrefix(data, utf8BOM))
	li := newLineIndex(src)
	if !utf8.ValidString(src) {
		for i := 0; i < len(src); {
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, &lineError{li.at(i), "not valid UTF-8"}
			}
			i += size
		}
	}
	var out []entry
	pos := 0
	for {
		// The start of a statement: blanks and newlines skipped, "#"
		// comments to the end of their line.
		for pos < len(src) {
			r, size := utf8.DecodeRuneInString(src[pos:])
			if !unicode.IsSpace(r) {
				break
			}
			pos += size
		}
		if pos >= len(src) {
			return out, nil
		}
		n := li.at(pos)
		if src[pos] == '#' {
			end := strings.IndexByte(src[pos:], '\n')
			if end < 0 {
				end = len(src) - pos
			}
			out = append(out, entry{line: n, key: src[pos+1 : pos+end], comment: true})
			pos += end
			continue
		}
		s := src[pos:]
		if rest, ok := strings.CutPrefix(s, "export"); ok && rest != "" {
			// compose's "^export\s+": \s is ASCII space, \t, \n, \f or \r.
			if strings.IndexByte(" \t\n\f\r", rest[0]) >= 0 {
				rest = strings.TrimLeftFunc(rest, composeSpace)
				if rest == "" || rest[0] == '\n' {
					return out, &lineError{n, "export without a name"}
				}
				pos += len(s) - len(rest)
				s = rest
			}
		}
		// The name ends at "=", ":" or a newline.
		end, sep := -1, rune(0)
	name:
		for i, r := range s {
			switch {
			case composeSpace(r):
			case r == '=' || r == ':' || r == '\n':
				end, sep = i, r
				break name
			case r == '_' || r == '.' || r == '-' || r == '[' || r == ']' || unicode.IsLetter(r) || unicode.IsNumber(r):
			default:
				return out, &lineError{n, "a character compose refuses in a variable name"}
			}
		}
		if end < 0 {
			return out, &lineError{n, "not NAME=VALUE (compose would read it as a variable without a name)"}
		}
		key := strings.TrimRightFunc(s[:end], unicode.IsSpace)
		if strings.Contains(key, " ") {
			return out, &lineError{n, "the name has a space in it, which compose refuses"}
		}
		if sep == '\n' {
			return out, &lineError{n, fmt.Sprintf("%s has no value: compose takes it from its own environment, and only values the file holds are sealed", safeName(key))}
		}
		if err := seal.CheckName(key); err != nil {
			return out, &lineError{n, err.Error()}
		}
		rest := strings.TrimLeftFunc(s[end+1:], composeSpace)
		pos += len(s) - len(rest)
		var value string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			var chars []byte
			escaped, closed := false, -1
			for i := 1; i < len(rest); i++ {
				c := rest[i]
				if c != q {
					if !escaped && c == '\\' {
						escaped = true
						continue
					}
					if escaped {
						escaped = false
						chars = append(chars, '\\')
					}
					chars = append(chars, c)
					continue
				}
				if escaped { // \" or \' is the quote itself
					escaped = false
					chars = append(chars, c)
					continue
				}
				closed = i
				break
			}
			if closed < 0 {
				return out, &lineError{n, "a quoted value that never ends"}
			}
			value = string(chars)
			if q == '"' {
				var err error
				if value, err = composeDouble(value); err != nil {
					return out, &lineError{n, err.Error()}
				}
			}
			// What follows the closing quote on its line: compose would
			// read anything but blanks or a comment as another variable.
			after := rest[closed+1:]
			tail := strings.TrimLeftFunc(after, composeSpace)
			if tail != "" && tail[0] != '\n' && tail[0] != '#' {
				return out, &lineError{li.at(pos + closed), "text after the closing quote, which compose reads as another variable"}
			}
			pos += closed + 1
		} else {
			line, _, _ := strings.Cut(rest, "\n")
			pos += len(line)
			line, _, _ = strings.Cut(line, " #")
			line = strings.TrimRightFunc(line, unicode.IsSpace)
			var err error
			if value, err = composeSubst(line); err != nil {
				return out, &lineError{n, err.Error()}
			}
		}
		out = append(out, entry{line: n, key: key, value: value})
	}
}

// composeDouble processes the escapes compose reads in a double-quoted
// value (\a \b \f \n \r \t \v \\ \$ and \" ) and then its substitutions.
func composeDouble(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		next := s[i+1]
		switch next {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\', '"':
			b.WriteByte(next)
		case '$':
			b.WriteString("$$") // compose's own spelling of a literal $
		case '0':
			return "", errors.New(`an octal escape (\0...) in double quotes, which sealenv does not read; write the character itself`)
		default:
			b.WriteByte('\\')
			b.WriteByte(next)
		}
		i++
	}
	return composeSubst(b.String())
}

// composeSubst applies compose's interpolation to s: $$ is a literal $; a
// $ before a name or a "{" is a substitution, which is refused; any other
// $ is itself.
func composeSubst(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) {
			switch next := s[i+1]; {
			case next == '$':
				b.WriteByte('$')
				i++
				continue
			case next == '{' || next == '_' || 'a' <= next && next <= 'z' || 'A' <= next && next <= 'Z':
				return "", errors.New("compose would substitute a variable here ($NAME or ${...}, from its environment or an earlier line); write $$ for a literal $, or quote the value in single quotes")
			}
		}
		b.WriteByte('$')
	}
	return b.String(), nil
}

// bashSpecial lists names bash sets or treats specially: an assignment
// does not simply store a value (readonly, dynamic or parser settings).
var bashSpecial = map[string]bool{
	"BASHOPTS": true, "BASHPID": true, "DIRSTACK": true, "EPOCHREALTIME": true, "EPOCHSECONDS": true,
	"EUID": true, "FUNCNAME": true, "GROUPS": true, "HISTCMD": true, "HOSTNAME": true, "HOSTTYPE": true,
	"IFS": true, "LINENO": true, "MACHTYPE": true, "OLDPWD": true, "OPTARG": true, "OPTERR": true,
	"OPTIND": true, "OSTYPE": true, "PIPESTATUS": true, "POSIXLY_CORRECT": true, "PPID": true,
	"PS1": true, "PS2": true, "PS3": true, "PS4": true, "PWD": true, "RANDOM": true, "SECONDS": true,
	"SHELLOPTS": true, "SHLVL": true, "SRANDOM": true, "UID": true, "_": true, "COMP_WORDBREAKS": true,
}

// readShell reads as bash does with set -a; . FILE, for the assignments it
// can read without running or expanding anything.
func readShell(data []byte) ([]entry, error) {
	s := string(data)
	li := newLineIndex(s)
	var out []entry
	i := 0
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n':
			i++
			continue
		case '#':
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				end = len(s) - i
			}
			out = append(out, entry{line: li.at(i), key: s[i+1 : i+end], comment: true})
			i += end
			continue
		}
		n := li.at(i)
		export := false
		if rest, ok := strings.CutPrefix(s[i:], "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			export = true
			i += len("export")
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
		}
		j := i
		for j < len(s) && (s[j] == '_' || 'A' <= s[j] && s[j] <= 'Z' || 'a' <= s[j] && s[j] <= 'z' || j > i && '0' <= s[j] && s[j] <= '9') {
			j++
		}
		if j == i || j >= len(s) || s[j] != '=' {
			return out, &lineError{n, "not an assignment NAME=VALUE: bash would run it as a command"}
		}
		key := s[i:j]
		if bashSpecial[key] || strings.HasPrefix(key, "BASH") {
			return out, &lineError{n, key + " is a variable that bash sets or treats specially"}
		}
		if err := seal.CheckName(key); err != nil {
			return out, &lineError{n, err.Error()}
		}
		i = j + 1
		value, next, err := shellWord(s, i, export)
		if err != nil {
			return out, &lineError{li.at(next), err.Error()}
		}
		i = next
		// After the word: blanks, then a comment or the end of the line.
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] != '\n' && s[i] != '#' {
			return out, &lineError{li.at(i), "a second word after the value: bash would run a command (quote a value with blanks in it)"}
		}
		out = append(out, entry{line: n, key: key, value: value})
	}
	return out, nil
}

// shellWord reads the word of an assignment from s[i:] as bash expands it,
// refusing every expansion. It returns the value and where the word ends
// (or where the refusal is).
func shellWord(s string, i int, export bool) (string, int, error) {
	var b strings.Builder
	afterColon := true // a ~ at the start of the value or after : is expanded
	for i < len(s) {
		c := s[i]
		switch c {
		case ' ', '\t', '\n':
			return b.String(), i, nil
		case ';', '&', '|', '<', '>', '(', ')':
			return "", i, errors.New("a shell operator (; & | < > ( )) outside quotes: bash would run a command; quote the value")
		case '`':
			return "", i, errors.New("` runs a command in bash; quote the value in single quotes")
		case '$':
			return "", i, errors.New("$ starts an expansion in bash; write \\$ or quote the value in single quotes")
		case '~':
			if afterColon {
				return "", i, errors.New("bash expands ~ here to a home directory; write \\~ or quote it")
			}
			b.WriteByte(c)
			i++
		case '*', '?', '[', '{':
			if export {
				return "", i, errors.New("bash expands export's arguments as file names and braces (* ? [ {); quote the value")
			}
			b.WriteByte(c)
			i++
		case '\\':
			if i+1 >= len(s) {
				return "", i, errors.New("a backslash at the end of the file")
			}
			if s[i+1] != '\n' { // backslash-newline joins lines
				b.WriteByte(s[i+1])
			}
			i += 2
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", i, errors.New("a single quote that never ends")
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case '"':
			i++
			closed := false
			for i < len(s) && !closed {
				d := s[i]
				switch d {
				case '"':
					closed = true
					i++
				case '$':
					return "", i, errors.New("$ starts an expansion in bash, also in double quotes; write \\$ or use single quotes")
				case '`':
					return "", i, errors.New("` runs a command in bash, also in double quotes; use single quotes")
				case '\\':
					if i+1 < len(s) {
						switch e := s[i+1]; e {
						case '$', '`', '"', '\\':
							b.WriteByte(e)
							i += 2
							continue
						case '\n':
							i += 2
							continue
						}
					}
					b.WriteByte('\\')
					i++
				default:
					b.WriteByte(d)
					i++
				}
			}
			if !closed {
				return "", i, errors.New("a double quote that never ends")
			}
		default:
			b.WriteByte(c)
			i++
		}
		afterColon = c == ':'
	}
	return b.String(), i, nil
}

// readSops reads as sops's dotenv store does.
func readSops(data []byte) ([]entry, error) {
	var out []entry
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if line == "" {
			continue
		}
		if line[0] == '#' {
			out = append(out, entry{line: n, key: line[1:], comment: true})
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &lineError{n, "not KEY=VALUE"}
		}
		if err := seal.CheckName(key); err != nil {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(key), "export "); ok && seal.ValidName(strings.TrimSpace(rest)) {
				return nil, &lineError{n, fmt.Sprintf("%q is not a key name in the sops dialect (sops would keep \"export \" in the name); the input is a shell .env: read it with another dialect", key)}
			}
			if seal.ValidName(strings.TrimSpace(key)) {
				return nil, &lineError{n, fmt.Sprintf("key %q has spaces around it, which the sops dialect keeps; read the input with another dialect", key)}
			}
			return nil, &lineError{n, err.Error()}
		}
		out = append(out, entry{line: n, key: key, value: strings.ReplaceAll(val, `\n`, "\n")})
	}
	return out, nil
}
