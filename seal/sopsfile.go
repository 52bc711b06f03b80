package seal

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The on-disk SOPS structure, parsed without the sops/v3 library. Everything
// here mirrors sops v3 behaviour exactly where it matters for decryption and
// the MAC: which values are encrypted, the additional data of each value, the
// order and byte form of values in the MAC.

// A leaf is one scalar value of the data tree, in document order.
type leaf struct {
	path   []string // map keys from the root: the AEAD additional data and the encryption rules use it
	name   string   // flattened environment name (list indices included)
	dotted string   // the same path joined with "." (list indices included): what a person types
	val    any      // string (maybe "ENC[...]"), int, float64, bool, time.Time, []byte, or nil
}

// stanza is one age-wrapped copy of the data key.
type stanza struct {
	Recipient string `yaml:"recipient"`
	Enc       string `yaml:"enc"`
}

// sopsMeta is the "sops" metadata block.
type sopsMeta struct {
	Age       []stanza `yaml:"age"`
	KeyGroups []struct {
		Age []stanza `yaml:"age"`
		// Any other key type in a group is counted, not used.
		Other map[string]any `yaml:",inline"`
	} `yaml:"key_groups"`
	ShamirThreshold         int    `yaml:"shamir_threshold"`
	LastModified            string `yaml:"lastmodified"`
	MAC                     string `yaml:"mac"`
	UnencryptedSuffix       string `yaml:"unencrypted_suffix"`
	EncryptedSuffix         string `yaml:"encrypted_suffix"`
	UnencryptedRegex        string `yaml:"unencrypted_regex"`
	EncryptedRegex          string `yaml:"encrypted_regex"`
	UnencryptedCommentRegex string `yaml:"unencrypted_comment_regex"`
	EncryptedCommentRegex   string `yaml:"encrypted_comment_regex"`
	MACOnlyEncrypted        bool   `yaml:"mac_only_encrypted"`
	Version                 string `yaml:"version"`

	// Key types the slim reader cannot use (kms, pgp, gcp_kms, ...).
	Other map[string]any `yaml:",inline"`
}

// parsed is a SOPS file split into data leaves and metadata.
type parsed struct {
	format Format
	leaves []leaf
	meta   sopsMeta
	// compiled encryption rules
	unencRe, encRe *regexp.Regexp
	// nodes counts YAML nodes visited, aliases expanded, against maxNodes.
	nodes int
	// anyNames accepts names that are not environment variable names
	// ([InspectAnyNames]).
	anyNames bool
}

// Format is the SOPS store a bundle uses.
type Format int

const (
	// FormatDotenv is the SOPS dotenv store: KEY=VALUE lines.
	FormatDotenv Format = iota + 1
	// FormatYAML is the SOPS YAML store.
	FormatYAML
	// FormatJSON is the SOPS JSON store.
	FormatJSON
)

// Formats lists every store, in the order messages name them. Each call
// returns a new slice: a caller that changes it changes no one else's.
func Formats() []Format { return []Format{FormatDotenv, FormatYAML, FormatJSON} }

func (f Format) String() string {
	switch f {
	case FormatDotenv:
		return "dotenv"
	case FormatYAML:
		return "yaml"
	case FormatJSON:
		return "json"
	}
	return "unknown"
}

// ParseFormat maps a store name ("dotenv", "env", "yaml", "yml", "json") to
// a Format.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "dotenv", "env":
		return FormatDotenv, nil
	case "yaml", "yml":
		return FormatYAML, nil
	case "json":
		return FormatJSON, nil
	case "ini":
		return 0, fmt.Errorf("store %q is not supported (want dotenv, yaml or json)", s)
	}
	return 0, fmt.Errorf("unknown store %q (want dotenv, yaml or json)", s)
}

// FormatForPath picks the store from a file name the way sops does: .yaml and
// .yml are YAML, .json is JSON, .env and *.env are dotenv. Other names
// return 0.
func FormatForPath(path string) Format {
	base := path
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	switch {
	case strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".yml"):
		return FormatYAML
	case strings.HasSuffix(base, ".json"):
		return FormatJSON
	case strings.HasSuffix(base, ".env"), base == ".env":
		return FormatDotenv
	}
	return 0
}

// DetectFormat decides the store of a bundle: by file name when it says,
// otherwise by content (SOPS JSON is an object, SOPS YAML has a top-level
// "sops:" mapping, SOPS dotenv has "sops_" lines).
func DetectFormat(path string, data []byte) (Format, error) {
	if f := FormatForPath(path); f != 0 {
		return f, nil
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return FormatJSON, nil
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("sops:")):
			return FormatYAML, nil
		case bytes.HasPrefix(line, []byte("sops_")):
			return FormatDotenv, nil
		}
	}
	return 0, errors.Join(ErrMalformed, errors.New("unknown store: name the file .env, .yaml or .json, or pass the store"))
}

const maxBundleSize = 16 << 20

func parseFile(format Format, data []byte) (*parsed, error) {
	if len(data) > maxBundleSize {
		return nil, malformed("bundle is larger than 16 MiB")
	}
	if !utf8.Valid(data) {
		return nil, malformed("bundle is not valid UTF-8")
	}
	var p *parsed
	var err error
	switch format {
	case FormatDotenv:
		if crlf(data) {
			return nil, malformed("%s", CRLFReason)
		}
		p, err = parseDotenv(data)
	case FormatYAML:
		p, err = parseYAML(data)
	case FormatJSON:
		p, err = parseJSON(data)
	default:
		return nil, errors.Join(ErrMalformed, errors.New("unknown store"))
	}
	if err != nil {
		return nil, err
	}
	p.format = format
	if err := p.checkMeta(); err != nil {
		return nil, err
	}
	return p, nil
}

// CRLFReason is why a dotenv bundle with Windows line endings does not
// open, and the one command that fixes it (the caller names the file).
const CRLFReason = `the file has Windows line endings (CRLF), which no SOPS dotenv file has (git's core.autocrlf or an editor converted it): convert it back with sed -i 's/\r$//' BUNDLE (or dos2unix BUNDLE), and keep git from converting it again: echo '*.env text eol=lf' >> .gitattributes`

// crlf reports whether a dotenv file's sops metadata lines end in CRLF.
func crlf(data []byte) bool {
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("sops_")) && bytes.HasSuffix(l, []byte("\r\n")) {
			return true
		}
	}
	return false
}

func malformed(format string, args ...any) error {
	return &reasonError{kind: ErrMalformed, msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) error {
	return &reasonError{kind: ErrUnsupported, msg: fmt.Sprintf(format, args...)}
}

// reasonError is a reason with a sentinel kind for errors.Is.
type reasonError struct {
	kind error
	msg  string
}

func (e *reasonError) Error() string        { return e.msg }
func (e *reasonError) Is(target error) bool { return target == e.kind }

// checkMeta validates the metadata block and compiles the encryption rules.
func (p *parsed) checkMeta() error {
	m := &p.meta
	if m.MAC == "" && m.LastModified == "" && m.Version == "" && len(m.Age) == 0 && len(m.KeyGroups) == 0 {
		return ErrNotSealed
	}
	if m.UnencryptedCommentRegex != "" || m.EncryptedCommentRegex != "" {
		return unsupported("comment-based encryption rules (encrypted_comment_regex, unencrypted_comment_regex) are not supported")
	}
	if m.MACOnlyEncrypted {
		return unsupported("mac_only_encrypted bundles are not supported: unencrypted values would not be authenticated")
	}
	rules := 0
	for _, r := range []string{m.UnencryptedSuffix, m.EncryptedSuffix, m.UnencryptedRegex, m.EncryptedRegex} {
		if r != "" {
			rules++
		}
	}
	if rules > 1 {
		return malformed("more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex")
	}
	if rules == 0 {
		m.UnencryptedSuffix = DefaultUnencryptedSuffix
	}
	var err error
	if m.UnencryptedRegex != "" {
		if p.unencRe, err = regexp.Compile(m.UnencryptedRegex); err != nil {
			return malformed("invalid unencrypted_regex")
		}
	}
	if m.EncryptedRegex != "" {
		if p.encRe, err = regexp.Compile(m.EncryptedRegex); err != nil {
			return malformed("invalid encrypted_regex")
		}
	}
	if m.MAC == "" {
		return &reasonError{kind: ErrTampered, msg: "bundle has no MAC"}
	}
	if _, err := time.Parse(time.RFC3339, m.LastModified); err != nil {
		return malformed("invalid sops.lastmodified")
	}
	return nil
}

// DefaultUnencryptedSuffix is the SOPS default: values whose key ends in it
// are stored in plain text (and still covered by the MAC).
const DefaultUnencryptedSuffix = "_unencrypted"

// encrypted reports whether the value at path is encrypted, by the SOPS rules.
func (p *parsed) encrypted(path []string) bool {
	m := &p.meta
	enc := true
	if m.UnencryptedSuffix != "" {
		for _, k := range path {
			if strings.HasSuffix(k, m.UnencryptedSuffix) {
				enc = false
				break
			}
		}
	}
	if m.EncryptedSuffix != "" {
		enc = false
		for _, k := range path {
			if strings.HasSuffix(k, m.EncryptedSuffix) {
				enc = true
				break
			}
		}
	}
	if p.unencRe != nil {
		for _, k := range path {
			if p.unencRe.MatchString(k) {
				enc = false
				break
			}
		}
	}
	if p.encRe != nil {
		enc = false
		for _, k := range path {
			if p.encRe.MatchString(k) {
				enc = true
				break
			}
		}
	}
	return enc
}

// stanzas returns every age stanza of the file.
func (p *parsed) stanzas() []stanza {
	out := append([]stanza(nil), p.meta.Age...)
	for _, g := range p.meta.KeyGroups {
		out = append(out, g.Age...)
	}
	return out
}

// otherKeyTypes counts non-age master keys (kms, pgp, ...), which only the
// full CLI can use.
func (p *parsed) otherKeyTypes() []string {
	var out []string
	add := func(m map[string]any) {
		for k, v := range m {
			if l, ok := v.([]any); ok && len(l) > 0 {
				out = append(out, k)
			}
		}
	}
	add(p.meta.Other)
	for _, g := range p.meta.KeyGroups {
		add(g.Other)
	}
	return out
}

// ---- dotenv store ----

const sopsPrefix = "sops_"

func parseDotenv(data []byte) (*parsed, error) {
	// One copy of the text: keys and values are substrings of it, and the
	// leaves and their one-element paths are allocated once, at the size
	// the line count bounds (up to 1,024). The store is read at every
	// container start.
	text := string(data)
	// At most 1,024 up front: a store of empty lines must not reserve a
	// leaf for each before anything is authenticated.
	lines := min(strings.Count(text, "\n")+1, 1024)
	p := &parsed{leaves: make([]leaf, 0, lines)}
	paths := make([]string, 0, lines)
	metaLines := map[string]string{}
	for i := 0; text != ""; i++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, malformed("line %d: not KEY=VALUE", i+1)
		}
		val = strings.ReplaceAll(val, `\n`, "\n")
		if strings.HasPrefix(key, sopsPrefix) {
			if _, dup := metaLines[key]; dup {
				return nil, malformed("line %d: duplicate metadata key %q", i+1, key)
			}
			metaLines[key] = val
			continue
		}
		paths = append(paths, key)
		p.leaves = append(p.leaves, leaf{path: paths[len(paths)-1 : len(paths) : len(paths)], name: key, dotted: key, val: val})
	}
	if err := p.meta.fromFlat(metaLines); err != nil {
		return nil, err
	}
	return p, nil
}

// fromFlat fills the metadata from the flattened dotenv form
// ("sops_age__list_0__map_enc", "sops_mac", ...).
func (m *sopsMeta) fromFlat(lines map[string]string) error {
	m.Other = map[string]any{}
	other := &flatNode{}
	groups := map[int]map[int]*stanza{}
	top := map[int]*stanza{}
	setStanza := func(set map[int]*stanza, idx, field, val string) error {
		n, err := strconv.Atoi(idx)
		if err != nil || n < 0 || n > 1<<16 {
			return malformed("invalid metadata index %q", idx)
		}
		s := set[n]
		if s == nil {
			s = &stanza{}
			set[n] = s
		}
		switch field {
		case "recipient":
			s.Recipient = val
		case "enc":
			s.Enc = val
		}
		return nil
	}
	text := map[string]*string{
		"lastmodified": &m.LastModified, "mac": &m.MAC, "version": &m.Version,
		"unencrypted_suffix": &m.UnencryptedSuffix, "encrypted_suffix": &m.EncryptedSuffix,
		"unencrypted_regex": &m.UnencryptedRegex, "encrypted_regex": &m.EncryptedRegex,
		"unencrypted_comment_regex": &m.UnencryptedCommentRegex, "encrypted_comment_regex": &m.EncryptedCommentRegex,
	}
	for k, v := range lines {
		k = strings.TrimPrefix(k, sopsPrefix)
		if field := text[k]; field != nil {
			*field = v
			continue
		}
		switch k {
		case "mac_only_encrypted":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return malformed("invalid sops_mac_only_encrypted")
			}
			m.MACOnlyEncrypted = b
		case "shamir_threshold":
			n, err := strconv.Atoi(v)
			if err != nil {
				return malformed("invalid sops_shamir_threshold")
			}
			m.ShamirThreshold = n
		default:
			parts := strings.Split(k, "__")
			switch {
			case len(parts) == 3 && parts[0] == "age" && strings.HasPrefix(parts[1], "list_") && strings.HasPrefix(parts[2], "map_"):
				if err := setStanza(top, parts[1][5:], parts[2][4:], v); err != nil {
					return err
				}
			case len(parts) == 5 && parts[0] == "key_groups" && strings.HasPrefix(parts[1], "list_") &&
				parts[2] == "map_age" && strings.HasPrefix(parts[3], "list_") && strings.HasPrefix(parts[4], "map_"):
				g, err := strconv.Atoi(parts[1][5:])
				if err != nil || g < 0 || g > 1<<16 {
					return malformed("invalid metadata index %q", parts[1])
				}
				if groups[g] == nil {
					groups[g] = map[int]*stanza{}
				}
				if err := setStanza(groups[g], parts[3][5:], parts[4][4:], v); err != nil {
					return err
				}
			default:
				// Other master keys (pgp, kms, ...), also inside key
				// groups: rebuilt as the YAML store would hold them.
				parts[0] = "map_" + parts[0]
				if err := other.place(parts, v); err != nil {
					return err
				}
			}
		}
	}
	// Key groups may hold age keys only (read above): their other keys
	// are a sparse list.
	groupOther := map[int]map[string]any{}
	if kg := other.keys["key_groups"]; kg != nil {
		delete(other.keys, "key_groups")
		for g, n := range kg.items {
			v, err := n.value()
			if err != nil {
				return err
			}
			groupOther[g], _ = v.(map[string]any)
			if groupOther[g] == nil {
				return malformed("key group %d is not a map", g)
			}
		}
	}
	tree, err := other.value()
	if err != nil {
		return err
	}
	for k, v := range tree.(map[string]any) {
		m.Other[k] = v
	}
	m.Age = sortedStanzas(top)
	n := 0
	for g := range groups {
		n = max(n, g+1)
	}
	for g := range groupOther {
		n = max(n, g+1)
	}
	for g := 0; g < n; g++ {
		var kg struct {
			Age   []stanza       `yaml:"age"`
			Other map[string]any `yaml:",inline"`
		}
		kg.Other = groupOther[g]
		if groups[g] == nil && kg.Other == nil {
			return malformed("key group %d is missing", g)
		}
		kg.Age = sortedStanzas(groups[g])
		m.KeyGroups = append(m.KeyGroups, kg)
	}
	return nil
}

func sortedStanzas(set map[int]*stanza) []stanza {
	out := make([]stanza, 0, len(set))
	for i := 0; len(out) < len(set) && i <= 1<<16; i++ {
		if s, ok := set[i]; ok {
			out = append(out, *s)
		}
	}
	return out
}

// ---- YAML store ----

func parseYAML(data []byte) (*parsed, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, malformed("invalid YAML: %s", yamlReason(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, unsupported("multi-document YAML bundles are not supported")
	}
	p := &parsed{}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, ErrNotSealed
		}
		root = root.Content[0]
	}
	for root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, malformed("top level of a YAML bundle must be a mapping")
	}
	var metaNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "sops" && k.ShortTag() == "!!str" {
			if metaNode != nil {
				return nil, malformed("duplicate sops metadata")
			}
			metaNode = v
			continue
		}
		key, err := yamlKey(k)
		if err != nil {
			return nil, err
		}
		if err := p.walkYAML(v, []string{key}, key, key, 0); err != nil {
			return nil, err
		}
	}
	if metaNode == nil {
		return nil, ErrNotSealed
	}
	if metaNode.Kind != yaml.MappingNode {
		return nil, malformed("sops metadata is not a mapping")
	}
	if err := metaNode.Decode(&p.meta); err != nil {
		return nil, malformed("invalid sops metadata: %s", yamlReason(err))
	}
	return p, nil
}

// yamlReason keeps the position of a YAML error and drops any quoted input.
func yamlReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: ")
	if i := strings.Index(s, "line "); i >= 0 {
		j := i + 5
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > i+5 {
			return "syntax error at " + s[i:j]
		}
	}
	return "syntax error"
}

func yamlKey(k *yaml.Node) (string, error) {
	for k.Kind == yaml.AliasNode {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", malformed("line %d: a key is not a scalar", k.Line)
	}
	var v any
	if err := k.Decode(&v); err != nil {
		return "", malformed("line %d: invalid key", k.Line)
	}
	s, ok := v.(string)
	if !ok {
		return "", malformed("line %d: key is not a string", k.Line)
	}
	return s, nil
}

// Limits on YAML structure. Aliases can make a tiny file expand to millions
// of values ("billion laughs"); a bundle is a list of secrets, so the limits
// are far above any real one and far below a denial of service.
const (
	maxDepth = 64
	maxNodes = 100_000
)

func (p *parsed) walkYAML(n *yaml.Node, path []string, name, dotted string, depth int) error {
	if depth > maxDepth {
		return malformed("line %d: nesting deeper than %d", n.Line, maxDepth)
	}
	if p.nodes++; p.nodes > maxNodes {
		return malformed("more than %d YAML nodes (alias expansion?)", maxNodes)
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, err := yamlKey(n.Content[i])
			if err != nil {
				return err
			}
			if err := p.walkYAML(n.Content[i+1], append(path[:len(path):len(path)], key), name+"_"+key, dotted+"."+key, depth+1); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			idx := strconv.Itoa(i)
			if err := p.walkYAML(item, path, name+"_"+idx, dotted+"."+idx, depth+1); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return malformed("line %d: invalid value", n.Line)
		}
		switch v.(type) {
		case string, int, float64, bool, time.Time, nil:
		default:
			return unsupported("line %d: value of %s has an unsupported type", n.Line, name)
		}
		p.leaves = append(p.leaves, leaf{path: path, name: name, dotted: dotted, val: v})
	default:
		return malformed("line %d: unexpected YAML node", n.Line)
	}
	return nil
}
