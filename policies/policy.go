// Package policies reads sealenv.yaml, the policy file at the repository
// root: which environments exist, where their bundles live, who may decrypt
// them, what a valid value looks like, when it must rotate, which keys each
// service may receive, and how the audit is tuned.
//
// Parsing is two steps, as in gitleaks: the file is decoded strictly into
// plain structs (an unknown or misspelled field is an error), then compiled
// and validated once ([Policy] holds compiled rules). Every error names the
// file and line and the item the user wrote.
package policies

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/duration"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
	"github.com/sealenv/sealenv/seal/signature"
)

// FileName is the policy file's name at the repository root.
const FileName = "sealenv.yaml"

// Policy is a parsed, validated sealenv.yaml.
type Policy struct {
	Version      int                 `yaml:"version"`
	Environments []Environment       `yaml:"environments"`
	Keys         map[string]*KeyRule `yaml:"keys"`
	Defaults     KeyRule             `yaml:"defaults"`
	Services     []Service           `yaml:"services"`
	Audit        Audit               `yaml:"audit"`
	// NestedPolicies names the other sealenv.yaml files the repository may
	// hold (see [NestedPolicy]); check reports any other one as an error.
	NestedPolicies []NestedPolicy `yaml:"nested_policies"`
	// Public lists keys that are not secret: a sops rule may store their
	// values unencrypted (check reports any other such key).
	Public []string `yaml:"public"`

	// readFile reads a file named relative to Root (signers files); nil
	// reads the working tree. A base policy ([ParseBase]) reads the base.
	readFile func(name string) ([]byte, error)

	// Path is the file the policy was read from; Root its directory, which
	// bundle paths are relative to.
	Path string `yaml:"-"`
	Root string `yaml:"-"`
}

// Environment is one deployment environment and its bundle.
type Environment struct {
	Name   string `yaml:"name"`
	Bundle string `yaml:"bundle"`
	// Recipients is the whole list of keys that may decrypt the bundle,
	// of every type: check reports any other key the bundle is wrapped to,
	// and rekey removes it.
	Recipients []Recipient `yaml:"recipients"`
	// KMS and PGP are short forms of recipients with a kms or pgp key and
	// no owner.
	KMS []string `yaml:"kms"`
	PGP []string `yaml:"pgp"`
	// KeyGroups splits the data key (Shamir): ShamirThreshold of the
	// groups must be opened, each by one of its keys. It replaces
	// Recipients, KMS and PGP.
	KeyGroups       []KeyGroup `yaml:"key_groups"`
	ShamirThreshold int        `yaml:"shamir_threshold"`
	// Required lists keys the bundle must hold (in addition to keys whose
	// rule says required: true).
	Required []string `yaml:"required"`
	// Signers lists who may sign the bundle (see [Signer]). When it is set,
	// check requires a signature by one of them, and wrap makes the
	// injector require it.
	Signers []Signer `yaml:"signers"`
	// AllowShort accepts that values of this environment's bundle
	// shorter than the audit's search minimum are not searched: all of
	// them (true) or those of the keys listed.
	AllowShort ShortAllowance `yaml:"allow_short"`
	// AllowNames lists names the injector refuses by default (they load
	// code, leak keys or redirect connections: NODE_OPTIONS, HTTPS_PROXY,
	// LD_*; see inject.RefusedName) that this environment's bundle may set
	// all the same. Writes, check, wrap and build refuse any other such
	// name; wrap passes exactly these to the image's injector.
	AllowNames []string `yaml:"allow_names"`

	groups      [][]Recipient // compiled: one group without key_groups
	allowed     *signature.AllowedSigners
	allowedText []byte
}

// KeyGroup is one Shamir key group.
type KeyGroup struct {
	Recipients []Recipient `yaml:"recipients"`
}

// Recipient is one key that may decrypt a bundle, with the person or
// system that owns it. Exactly one of the key fields is set.
type Recipient struct {
	Key     string `yaml:"key"`      // age (age1...), ssh-ed25519 or ssh-rsa public key
	PGP     string `yaml:"pgp"`      // PGP fingerprint
	KMS     string `yaml:"kms"`      // AWS KMS key ARN
	GCPKMS  string `yaml:"gcp_kms"`  // Google Cloud KMS resource ID
	AzureKV string `yaml:"azure_kv"` // Azure Key Vault key URL
	Vault   string `yaml:"hc_vault"` // HashiCorp Vault transit key URL
	HCKMS   string `yaml:"hckms"`    // Huawei Cloud KMS REGION:KEY_ID
	// Role and Context go with KMS: the IAM role to assume, and the
	// encryption context.
	Role    string            `yaml:"role"`
	Context map[string]string `yaml:"context"`
	Owner   string            `yaml:"owner"`

	master seal.MasterKey
}

// compile checks that r names exactly one key and parses it.
func (r *Recipient) compile() error {
	var set []string
	for _, f := range []struct{ name, val string }{
		{"key", r.Key}, {seal.KeyPGP, r.PGP}, {seal.KeyKMS, r.KMS}, {seal.KeyGCPKMS, r.GCPKMS},
		{seal.KeyAzureKV, r.AzureKV}, {seal.KeyVault, r.Vault}, {seal.KeyHCKMS, r.HCKMS},
	} {
		if strings.TrimSpace(f.val) != "" {
			set = append(set, f.name)
		}
	}
	switch {
	case len(set) == 0:
		return errors.New("recipient needs one of key, pgp, kms, gcp_kms, azure_kv, hc_vault or hckms")
	case len(set) > 1:
		return fmt.Errorf("recipient sets %s and %s; give each key its own entry", set[0], set[1])
	case (r.Role != "" || len(r.Context) > 0) && r.KMS == "":
		return errors.New("role and context belong to a kms recipient")
	}
	var err error
	switch set[0] {
	case "key":
		r.master, err = recipients.Age(r.Key)
	case seal.KeyPGP:
		r.master, err = recipients.PGP(r.PGP)
	case seal.KeyKMS:
		r.master, err = recipients.KMS(r.KMS, r.Role, r.Context)
	case seal.KeyGCPKMS:
		r.master, err = recipients.GCPKMS(r.GCPKMS)
	case seal.KeyAzureKV:
		r.master, err = recipients.AzureKV(r.AzureKV)
	case seal.KeyVault:
		r.master, err = recipients.Vault(r.Vault)
	case seal.KeyHCKMS:
		r.master, err = recipients.HCKMS(r.HCKMS)
	}
	return err
}

// MasterKey is the key the recipient names.
func (r Recipient) MasterKey() seal.MasterKey { return r.master }

// KeyRule says what a valid value of a key is and when it must rotate.
type KeyRule struct {
	Required   bool       `yaml:"required"`
	MinLength  int        `yaml:"min_length"`
	Pattern    string     `yaml:"pattern"`
	Forbid     []string   `yaml:"forbid"`
	Generator  *Generator `yaml:"generator"`
	MaxAge     Duration   `yaml:"max_age"`
	WarnBefore Duration   `yaml:"warn_before"`
	Grace      Duration   `yaml:"grace"`
	// AllowShort accepts that the key's values shorter than the audit's
	// search minimum are not searched, in every environment.
	AllowShort bool `yaml:"allow_short"`

	pattern *regexp.Regexp
}

// ShortAllowance is an environment's allow_short: true (every key), false,
// or a list of key names.
type ShortAllowance struct {
	All  bool
	Keys []string
}

// UnmarshalYAML reads true, false or a list of key names.
func (a *ShortAllowance) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if err := n.Decode(&a.All); err == nil {
			return nil
		}
	case yaml.SequenceNode:
		if err := n.Decode(&a.Keys); err == nil {
			return nil
		}
	}
	return fmt.Errorf("line %d: allow_short: want true, false or a list of key names", n.Line)
}

// AllowShort reports whether the policy accepts that the values of key
// shorter than the audit's search minimum are not searched: the key's rule
// (or the defaults) says so, or env's allow_short does. env may be nil,
// for a bundle of no environment.
func (p *Policy) AllowShort(env *Environment, key string) bool {
	if p.Rule(key).AllowShort {
		return true
	}
	return env != nil && (env.AllowShort.All || slices.Contains(env.AllowShort.Keys, key))
}

// Generator makes new values for rotate.
type Generator struct {
	Length   int    `yaml:"length"`
	Alphabet string `yaml:"alphabet"` // base64url, hex or alnum
	Command  string `yaml:"command"`  // run with sh -c in the policy's directory; its stdout (trimmed) is the value
	// SHA256 pins a command: the digest of the command and of every file
	// of the repository it names (see [Generator.Pin]). A command runs only
	// while the digest matches.
	SHA256 string `yaml:"sha256"`

	// root is the directory of the policy the generator is in: the
	// command runs there, and the files it names are found there.
	root string
}

// Service names a consumer (an image or a deployment) and the keys it may
// receive: least privilege for one bundle that feeds several services.
type Service struct {
	Name         string   `yaml:"name"`
	Environments []string `yaml:"environments"`
	Keys         []string `yaml:"keys"`
}

// Audit tunes `sealenv audit` and `sealenv scan`.
type Audit struct {
	Rules     []CustomRule `yaml:"rules"`
	Allowlist []Allow      `yaml:"allowlist"`
	Baseline  *Baseline    `yaml:"baseline"`
}

// CustomRule is a user credential pattern, added to the built-in rule set.
type CustomRule struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description"`
	Regex       string   `yaml:"regex"`
	Keywords    []string `yaml:"keywords"`
	Entropy     float64  `yaml:"entropy"`

	Compiled *regexp.Regexp `yaml:"-"`
}

// Allow suppresses findings that match all of its set fields.
type Allow struct {
	Rule   string `yaml:"rule"`
	Path   string `yaml:"path"` // a glob (path.Match) or a plain prefix
	Secret string `yaml:"secret"`
	Reason string `yaml:"reason"`
}

// Baseline is a report of accepted, pre-existing findings.
type Baseline struct {
	File   string `yaml:"file"`
	Reason string `yaml:"reason"`
}

// Duration accepts Go durations ("72h", "90m") and days and weeks ("90d",
// "2w").
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses "90d", "2w", "1w2d" or any time.ParseDuration
// string: the syntax every sealenv duration shares (flags and variables
// too). Negative durations are errors.
func ParseDuration(s string) (time.Duration, error) {
	return duration.Parse(s)
}

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads and validates a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates policy bytes read from path.
func Parse(path string, data []byte) (*Policy, error) {
	return parse(path, data, nil)
}

func parse(path string, data []byte, readFile func(string) ([]byte, error)) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Policy{readFile: readFile}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%s", yamlError(path, err))
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	p.Path, p.Root = abs, filepath.Dir(abs)
	at := func(keys ...any) string { return fmt.Sprintf("%s:%d", path, lineOf(&doc, keys...)) }
	if err := p.validate(at); err != nil {
		return nil, err
	}
	return p, nil
}

// lineOf finds the line of a path of map keys (string) and list indices
// (int) in a YAML document, or the deepest line it reaches.
func lineOf(doc *yaml.Node, keys ...any) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return line
			}
			n = n.Content[k]
			line = n.Line
		}
	}
	return line
}

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// yamlError turns a yaml.v3 error into one "FILE:LINE: reason" line.
func yamlError(path string, err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n")
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if m := lineRe.FindStringSubmatch(s); m != nil {
		reason := m[2]
		if u := unknownRe.FindStringSubmatch(reason); u != nil {
			reason = fmt.Sprintf("unknown field %q", u[1])
		}
		return fmt.Sprintf("%s:%s: %s", path, m[1], reason)
	}
	return path + ": " + s
}

func (p *Policy) validate(at func(...any) string) error {
	if p.Version != 1 {
		return fmt.Errorf("%s: version must be 1, got %d", at("version"), p.Version)
	}
	seen := map[string]bool{}
	bundles := map[string]string{}
	for i := range p.Environments {
		e := &p.Environments[i]
		where := at("environments", i)
		if e.Name == "" {
			return fmt.Errorf("%s: environment without a name", where)
		}
		if seen[e.Name] {
			return fmt.Errorf("%s: duplicate environment %q", where, e.Name)
		}
		seen[e.Name] = true
		if e.Bundle == "" {
			return fmt.Errorf("%s: environment %q has no bundle path", where, e.Name)
		}
		if filepath.IsAbs(e.Bundle) || strings.HasPrefix(filepath.Clean(e.Bundle), "..") {
			return fmt.Errorf("%s: environment %q: bundle path %q is outside the repository", at("environments", i, "bundle"), e.Name, e.Bundle)
		}
		clean := filepath.Clean(e.Bundle)
		if other, dup := bundles[clean]; dup {
			return fmt.Errorf("%s: environments %q and %q share the bundle %s; give each environment its own", at("environments", i, "bundle"), other, e.Name, e.Bundle)
		}
		bundles[clean] = e.Name
		if err := e.compileKeys(at, i); err != nil {
			return err
		}
		if err := e.compileSigners(at, i, p.signersReader()); err != nil {
			return err
		}
		for j, k := range e.Required {
			if err := seal.CheckName(k); err != nil {
				return fmt.Errorf("%s: environment %q: required %v", at("environments", i, "required", j), e.Name, err)
			}
		}
		for j, k := range e.AllowShort.Keys {
			if err := seal.CheckName(k); err != nil {
				return fmt.Errorf("%s: environment %q: allow_short %v", at("environments", i, "allow_short", j), e.Name, err)
			}
		}
		for j, k := range e.AllowNames {
			where := at("environments", i, "allow_names", j)
			if err := seal.CheckName(k); err != nil {
				return fmt.Errorf("%s: environment %q: allow_names %v", where, e.Name, err)
			}
			var ne *inject.NameError
			switch err := inject.RefusedName(k, nil, nil); {
			case errors.As(err, &ne) && ne.Reserved:
				return fmt.Errorf("%s: environment %q: allow_names: %s is an identity variable, which the injector never passes on; no policy can allow it", where, e.Name, k)
			case err == nil:
				return fmt.Errorf("%s: environment %q: allow_names: the injector does not refuse %s; list only names it refuses (docs/inject.md)", where, e.Name, k)
			}
			if slices.Contains(e.AllowNames[:j], k) {
				return fmt.Errorf("%s: environment %q: allow_names: %s is listed twice", where, e.Name, k)
			}
		}
	}
	for name, r := range p.Keys {
		if err := seal.CheckName(name); err != nil {
			return fmt.Errorf("%s: %v", at("keys", name), err)
		}
		if r == nil {
			p.Keys[name] = &KeyRule{}
			continue
		}
		if err := r.compile(); err != nil {
			return fmt.Errorf("%s: key %s: %v", at("keys", name), name, err)
		}
		if r.Generator != nil {
			r.Generator.root = p.Root
		}
	}
	if err := p.Defaults.compile(); err != nil {
		return fmt.Errorf("%s: defaults: %v", at("defaults"), err)
	}
	if p.Defaults.Generator != nil {
		p.Defaults.Generator.root = p.Root
	}
	svcs := map[string]bool{}
	for i, s := range p.Services {
		if s.Name == "" || svcs[s.Name] {
			return fmt.Errorf("%s: service needs a unique name (got %q)", at("services", i), s.Name)
		}
		svcs[s.Name] = true
		for _, e := range s.Environments {
			if !seen[e] {
				return fmt.Errorf("%s: service %q names unknown environment %q", at("services", i), s.Name, e)
			}
		}
		for j, k := range s.Keys {
			if err := seal.CheckName(k); err != nil {
				return fmt.Errorf("%s: service %q: %v", at("services", i, "keys", j), s.Name, err)
			}
		}
	}
	ids := map[string]bool{}
	for i := range p.Audit.Rules {
		r := &p.Audit.Rules[i]
		where := at("audit", "rules", i)
		if r.ID == "" || ids[r.ID] {
			return fmt.Errorf("%s: custom rule needs a unique id (got %q)", where, r.ID)
		}
		ids[r.ID] = true
		if r.Regex == "" {
			return fmt.Errorf("%s: %s: regex is empty", where, r.ID)
		}
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			return fmt.Errorf("%s: %s: invalid regex: %s", at("audit", "rules", i, "regex"), r.ID, regexReason(err))
		}
		r.Compiled = re
		if r.Entropy < 0 || r.Entropy > 8 {
			return fmt.Errorf("%s: %s: entropy must be between 0 and 8 bits per character", where, r.ID)
		}
	}
	for i, a := range p.Audit.Allowlist {
		if strings.TrimSpace(a.Reason) == "" {
			return fmt.Errorf("%s: allowlist entry needs a reason", at("audit", "allowlist", i))
		}
		if a.Rule == "" && a.Path == "" && a.Secret == "" {
			return fmt.Errorf("%s: allowlist entry matches nothing: set rule, path or secret", at("audit", "allowlist", i))
		}
	}
	for j, k := range p.Public {
		if err := seal.CheckName(k); err != nil {
			return fmt.Errorf("%s: public: %v", at("public", j), err)
		}
	}
	if err := p.validateNested(at); err != nil {
		return err
	}
	if b := p.Audit.Baseline; b != nil {
		if b.File == "" || strings.TrimSpace(b.Reason) == "" {
			return fmt.Errorf("%s: baseline needs a file and a reason", at("audit", "baseline"))
		}
	}
	return nil
}

// compileKeys checks and compiles the recipients, kms, pgp and key groups
// of environment i.
func (e *Environment) compileKeys(at func(...any) string, i int) error {
	fail := func(err error, where ...any) error {
		return fmt.Errorf("%s: environment %q: %v", at(append([]any{"environments", i}, where...)...), e.Name, err)
	}
	seen := map[string]bool{}
	add := func(group int, r Recipient, where ...any) error {
		if err := r.compile(); err != nil {
			return fail(err, where...)
		}
		r.master.Group = group
		id := r.master.String()
		if seen[id] {
			return fail(fmt.Errorf("recipient %q listed twice", recipients.Short(id)), where...)
		}
		seen[id] = true
		for len(e.groups) <= group {
			e.groups = append(e.groups, nil)
		}
		e.groups[group] = append(e.groups[group], r)
		return nil
	}
	if len(e.KeyGroups) > 0 {
		switch {
		case len(e.Recipients)+len(e.KMS)+len(e.PGP) > 0:
			return fail(errors.New("key_groups replaces recipients, kms and pgp; list every key in its group"), "key_groups")
		case len(e.KeyGroups) == 1:
			return fail(errors.New("key_groups needs two groups or more (one group is recipients)"), "key_groups")
		case e.ShamirThreshold < 0 || e.ShamirThreshold > len(e.KeyGroups):
			return fail(fmt.Errorf("shamir_threshold %d is not between 1 and the %d key groups", e.ShamirThreshold, len(e.KeyGroups)), "shamir_threshold")
		}
		for g, kg := range e.KeyGroups {
			if len(kg.Recipients) == 0 {
				return fail(fmt.Errorf("key group %d has no recipients", g), "key_groups", g)
			}
			for j, r := range kg.Recipients {
				if err := add(g, r, "key_groups", g, "recipients", j); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if e.ShamirThreshold != 0 {
		return fail(errors.New("shamir_threshold needs key_groups"), "shamir_threshold")
	}
	if len(e.Recipients)+len(e.KMS)+len(e.PGP) == 0 {
		return fmt.Errorf("%s: environment %q has no recipients", at("environments", i), e.Name)
	}
	for j, r := range e.Recipients {
		if err := add(0, r, "recipients", j); err != nil {
			return err
		}
	}
	for j, k := range e.KMS {
		if err := add(0, Recipient{KMS: k}, "kms", j); err != nil {
			return err
		}
	}
	for j, k := range e.PGP {
		if err := add(0, Recipient{PGP: k}, "pgp", j); err != nil {
			return err
		}
	}
	return nil
}

func regexReason(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func (r *KeyRule) compile() error {
	if r.MinLength < 0 {
		return errors.New("min_length is negative")
	}
	if r.Pattern != "" {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return fmt.Errorf("invalid pattern: %s", regexReason(err))
		}
		r.pattern = re
	}
	if g := r.Generator; g != nil {
		if g.Command != "" && (g.Length != 0 || g.Alphabet != "") {
			return errors.New("generator: command excludes length and alphabet")
		}
		switch g.Alphabet {
		case "", "base64url", "hex", "alnum":
		default:
			return fmt.Errorf("generator: unknown alphabet %q (want base64url, hex or alnum)", g.Alphabet)
		}
		if g.Command == "" && g.Length != 0 && (g.Length < 16 || g.Length > 4096) {
			return fmt.Errorf("generator: length %d is outside 16..4096", g.Length)
		}
		if g.SHA256 != "" && (g.Command == "" || !isSHA256Hex(g.SHA256)) {
			return errors.New("generator: sha256 pins a command: 64 lowercase hex digits, next to command (sealenv pin writes it)")
		}
	}
	if r.WarnBefore > 0 && r.MaxAge > 0 && r.WarnBefore >= r.MaxAge {
		return errors.New("warn_before must be shorter than max_age")
	}
	return nil
}

// Rule returns the effective rule of a key: its own, with unset fields taken
// from defaults.
func (p *Policy) Rule(key string) KeyRule {
	r := p.Defaults
	if own, ok := p.Keys[key]; ok && own != nil {
		o := *own
		if o.MinLength == 0 {
			o.MinLength = r.MinLength
		}
		if o.pattern == nil {
			o.Pattern, o.pattern = r.Pattern, r.pattern
		}
		o.Forbid = append(append([]string{}, r.Forbid...), o.Forbid...)
		if o.Generator == nil {
			o.Generator = r.Generator
		}
		if o.MaxAge == 0 {
			o.MaxAge = r.MaxAge
		}
		if o.WarnBefore == 0 {
			o.WarnBefore = r.WarnBefore
		}
		if o.Grace == 0 {
			o.Grace = r.Grace
		}
		o.AllowShort = o.AllowShort || r.AllowShort
		return o
	}
	return r
}

// Declared reports whether the policy names a key anywhere (keys:, an
// environment's required list, or a service).
func (p *Policy) Declared(env *Environment, key string) bool {
	if _, ok := p.Keys[key]; ok {
		return true
	}
	for _, k := range env.Required {
		if k == key {
			return true
		}
	}
	for _, s := range p.Services {
		for _, k := range s.Keys {
			if k == key {
				return true
			}
		}
	}
	return false
}

// DeclaresKeys reports whether the policy lists keys at all; only then are
// undeclared keys in a bundle reported.
func (p *Policy) DeclaresKeys(env *Environment) bool {
	if len(p.Keys) > 0 || len(env.Required) > 0 {
		return true
	}
	for _, s := range p.Services {
		if len(s.Keys) > 0 {
			return true
		}
	}
	return false
}

// RequiredKeys returns the keys env must hold, sorted by first mention.
func (p *Policy) RequiredKeys(env *Environment) []string {
	out := append([]string{}, env.Required...)
	seen := map[string]bool{}
	for _, k := range out {
		seen[k] = true
	}
	var extra []string
	for k, r := range p.Keys {
		if r != nil && r.Required && !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// ServiceKeys returns the keys a service may receive in an environment, and
// whether the service is known. An empty Environments list means all.
func (p *Policy) ServiceKeys(service, env string) ([]string, bool) {
	for _, s := range p.Services {
		if s.Name != service {
			continue
		}
		if len(s.Environments) == 0 {
			return s.Keys, true
		}
		for _, e := range s.Environments {
			if e == env {
				return s.Keys, true
			}
		}
		return nil, true
	}
	return nil, false
}

// ErrNotFound means no sealenv.yaml was found.
var ErrNotFound = errors.New("no " + FileName + " found in this directory or above (up to the repository root)")

// Find looks for sealenv.yaml in start and its parents, stopping at the
// first directory that holds .git (the repository root), and returns the
// nearest one. It then reads every sealenv.yaml above that one, up to the
// same boundary, and returns a [*NestedError] unless each of them names
// the nearest one in nested_policies: a policy below the root one is used
// only when the root one accepts it, so a second policy added to a
// subdirectory (wrapping its bundles to other keys) is refused by every
// command, not only reported by check.
func Find(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	found := ""
	for {
		p := filepath.Join(dir, FileName)
		if _, err := os.Stat(p); err == nil {
			if found == "" {
				found = p
			} else if err := admits(p, found); err != nil {
				return "", err
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if found == "" {
		return "", ErrNotFound
	}
	return found, nil
}

// NestedError is a policy that [Find] refuses: a sealenv.yaml below
// another one (Outer) that does not name it in nested_policies, or whose
// outer policy cannot be read to tell.
type NestedError struct {
	Path  string // the nested policy, absolute
	Outer string // the policy above it, absolute
	Err   error  // why Outer could not be read; nil when it does not name Path
}

func (e *NestedError) Error() string {
	rel, _ := filepath.Rel(filepath.Dir(e.Outer), e.Path)
	rel = filepath.ToSlash(rel)
	if e.Err != nil {
		return fmt.Sprintf("policy %s: cannot tell whether %s accepts it: %v", e.Path, e.Outer, e.Err)
	}
	return fmt.Sprintf("policy %s: %s does not name it in nested_policies, so it is not used (a second policy could wrap bundles to other keys); review it (git log --format='%%h %%an' -- %s), then delete it, or name it under nested_policies in %s with a reason", e.Path, e.Outer, rel, e.Outer)
}

func (e *NestedError) Unwrap() error { return e.Err }

// admits returns a [*NestedError] unless the policy at outer names the
// policy at inner (a sealenv.yaml in a directory below outer's).
func admits(outer, inner string) error {
	p, err := Load(outer)
	if err != nil {
		return &NestedError{Path: inner, Outer: outer, Err: err}
	}
	rel, err := filepath.Rel(p.Root, inner)
	if err != nil || !p.names(rel) {
		return &NestedError{Path: inner, Outer: outer}
	}
	return nil
}

// Env returns the environment called name.
func (p *Policy) Env(name string) (*Environment, error) {
	for i := range p.Environments {
		if p.Environments[i].Name == name {
			return &p.Environments[i], nil
		}
	}
	var names []string
	for _, e := range p.Environments {
		names = append(names, e.Name)
	}
	return nil, fmt.Errorf("%s: no environment %q (have: %s)", p.Path, name, strings.Join(names, ", "))
}

// BundlePath is the environment's bundle path, resolved against the policy root.
func (p *Policy) BundlePath(e *Environment) string {
	return filepath.Join(p.Root, filepath.FromSlash(e.Bundle))
}

// MasterKeys returns the keys that may decrypt the environment's bundle,
// by key group (one group without key_groups), with their owners.
func (e *Environment) MasterKeys() [][]Recipient { return e.groups }

// MasterKeyGroups returns the keys of [Environment.MasterKeys] as a bundle
// holds them, by key group: what a write wraps the data key to, with
// [Environment.Threshold].
func (e *Environment) MasterKeyGroups() [][]seal.MasterKey {
	var groups [][]seal.MasterKey
	for _, g := range e.groups {
		var keys []seal.MasterKey
		for _, r := range g {
			keys = append(keys, r.MasterKey())
		}
		groups = append(groups, keys)
	}
	return groups
}

// Threshold is the number of key groups that must be opened: 0 without
// key groups, all of them unless shamir_threshold says less.
func (e *Environment) Threshold() int {
	if len(e.KeyGroups) == 0 {
		return 0
	}
	if e.ShamirThreshold == 0 {
		return len(e.KeyGroups)
	}
	return e.ShamirThreshold
}

// Owner returns the owner label of a key, or "".
func (e *Environment) Owner(k seal.MasterKey) string {
	for _, g := range e.groups {
		for _, r := range g {
			if k.Matches(r.master) {
				return r.Owner
			}
		}
	}
	return ""
}

// ResolveBundle is [Policy.BundlePath] with every symlink followed. A bundle
// whose real location is outside the policy's directory (a symlinked
// directory or file pointing out of the repository) is an error.
func (p *Policy) ResolveBundle(e *Environment) (string, error) {
	path, err := fsutil.Resolve(p.BundlePath(e), p.Root)
	if err != nil {
		return "", fmt.Errorf("environment %q: %w", e.Name, err)
	}
	return path, nil
}
