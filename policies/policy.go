// Package policies reads sealenv.yaml, the policy file at the repository
// root: which environments exist, where their bundles live, and who may
// decrypt them.
package policies

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// FileName is the policy file's name at the repository root.
const FileName = "sealenv.yaml"

// Policy is a parsed sealenv.yaml.
type Policy struct {
	Version      int           `yaml:"version"`
	Environments []Environment `yaml:"environments"`

	// Path is the file the policy was read from; Root its directory, which
	// bundle paths are relative to.
	Path string `yaml:"-"`
	Root string `yaml:"-"`
}

// Environment is one deployment environment and its bundle.
type Environment struct {
	Name       string      `yaml:"name"`
	Bundle     string      `yaml:"bundle"`
	Recipients []Recipient `yaml:"recipients"`
	line       int
}

// Recipient is a public key with the person or system that owns it.
type Recipient struct {
	Key   string `yaml:"key"`
	Owner string `yaml:"owner"`
}

// Load reads and validates a policy file. Unknown fields are errors, and
// every error names the file and line.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates policy bytes read from path.
func Parse(path string, data []byte) (*Policy, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Policy{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		p.recordLines(doc.Content[0])
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	p.Path = abs
	p.Root = filepath.Dir(abs)
	if p.Version != 1 {
		return nil, fmt.Errorf("%s: version must be 1, got %d", path, p.Version)
	}
	seen := map[string]bool{}
	for _, e := range p.Environments {
		where := fmt.Sprintf("%s:%d", path, e.line)
		if e.Name == "" {
			return nil, fmt.Errorf("%s: environment without a name", where)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("%s: duplicate environment %q", where, e.Name)
		}
		seen[e.Name] = true
		if e.Bundle == "" {
			return nil, fmt.Errorf("%s: environment %q has no bundle path", where, e.Name)
		}
		if filepath.IsAbs(e.Bundle) || strings.HasPrefix(filepath.Clean(e.Bundle), "..") {
			return nil, fmt.Errorf("%s: environment %q: bundle path %q is outside the repository", where, e.Name, e.Bundle)
		}
		if len(e.Recipients) == 0 {
			return nil, fmt.Errorf("%s: environment %q has no recipients", where, e.Name)
		}
		for _, r := range e.Recipients {
			if strings.TrimSpace(r.Key) == "" {
				return nil, fmt.Errorf("%s: environment %q: recipient without a key", where, e.Name)
			}
		}
	}
	return p, nil
}

// recordLines remembers where each environment starts, for error messages.
func (p *Policy) recordLines(root *yaml.Node) {
	if root.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "environments" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for j, n := range root.Content[i+1].Content {
			if j < len(p.Environments) {
				p.Environments[j].line = n.Line
			}
		}
	}
}

// ErrNotFound means no sealenv.yaml was found.
var ErrNotFound = errors.New("no " + FileName + " found in this directory or above (up to the repository root)")

// Find looks for sealenv.yaml in start and its parents, stopping at the
// first directory that holds .git.
func Find(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return "", ErrNotFound
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotFound
		}
		dir = parent
	}
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

// Keys returns the recipients' public keys.
func (e *Environment) Keys() []string {
	out := make([]string, 0, len(e.Recipients))
	for _, r := range e.Recipients {
		out = append(out, strings.TrimSpace(r.Key))
	}
	return out
}
