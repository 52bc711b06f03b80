package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

// RuleDecryptedCopy is the scan rule of a file that is a decrypted copy of
// a bundle of the policy.
const RuleDecryptedCopy = "decrypted-bundle-copy"

// copySuffixes make an editor's, a merge tool's or a person's copy of a
// file: prod.env~, prod.env.bak, prod.env.orig, .prod.env.swp, ...
var copySuffixes = []string{"~", ".bak", ".orig", ".old", ".save", ".tmp", ".rej", ".dec", ".decrypted", ".plain", ".clear", ".swp", ".swo", ".copy"}

// copyName reports whether base (a file name) is a copy of the bundle
// file name bundle by its name: bundle plus a copy suffix, vim's
// .bundle.swp, emacs's #bundle#, or STEM.dec.EXT, STEM.decrypted.EXT,
// STEM.plain.EXT.
func copyName(base, bundle string) bool {
	if base == bundle {
		return false
	}
	if base == "#"+bundle+"#" {
		return true
	}
	trimmed := strings.TrimPrefix(base, ".")
	for _, s := range copySuffixes {
		if trimmed == bundle+s {
			return true
		}
	}
	ext := filepath.Ext(bundle)
	stem := strings.TrimSuffix(bundle, ext)
	for _, mid := range []string{".dec", ".decrypted", ".plain", ".clear"} {
		if stem != "" && strings.HasPrefix(base, stem+mid+".") {
			return true
		}
	}
	return false
}

// topKeys returns the top-level keys of plaintext in any store a bundle
// has: a YAML or JSON mapping's keys, else dotenv KEY= lines.
func topKeys(data []byte) map[string]bool {
	keys := map[string]bool{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			keys[m.Content[i].Value] = true
		}
		return keys
	}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "export ")
		if k, _, ok := strings.Cut(l, "="); ok && k != "" && !strings.HasPrefix(k, "#") && seal.CheckName(k) == nil {
			keys[k] = true
		}
	}
	return keys
}

// bundleKeys is one bundle of the policy, as the scan compares copies
// with it: its path and its top-level key names, read without a key.
type bundleKeys struct {
	env, rel string
	base     string
	top      []string
}

// policyBundleKeys reads the top-level key names of each bundle of the
// policy that exists and is sealed; the others are check's business.
func policyBundleKeys(p *policies.Policy) []bundleKeys {
	var out []bundleKeys
	for i := range p.Environments {
		env := &p.Environments[i]
		path := p.BundlePath(env)
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		format, err := seal.DetectFormat(path, data)
		if err != nil {
			continue
		}
		info, err := seal.Inspect(format, data)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		var top []string
		for _, d := range info.Paths {
			t, _, _ := strings.Cut(d, ".")
			if !seen[t] {
				seen[t] = true
				top = append(top, t)
			}
		}
		out = append(out, bundleKeys{env: env.Name, rel: env.Bundle, base: filepath.Base(path), top: top})
	}
	return out
}

// decryptedCopies reports each scanned file, not sealed and not a bundle
// of the policy, that is a decrypted copy of one of its bundles, read
// without a key: named as a copy of it (prod.env~, prod.env.bak,
// .prod.env.swp, prod.dec.env, ...), or holding every top-level key of a
// bundle of two keys or more (sops decrypt --output-type json > x.json).
func decryptedCopies(p *policies.Policy, files []audit.File) []audit.Finding {
	if p == nil {
		return nil
	}
	bundles := policyBundleKeys(p)
	if len(bundles) == 0 {
		return nil
	}
	own := map[string]bool{}
	for i := range p.Environments {
		own[p.BundlePath(&p.Environments[i])] = true
	}
	var out []audit.Finding
	for _, f := range files {
		if abs, err := filepath.Abs(filepath.FromSlash(f.Path)); err == nil && own[abs] {
			continue
		}
		base := filepath.Base(filepath.FromSlash(f.Path))
		var byName []bundleKeys
		for _, b := range bundles {
			if copyName(base, b.base) {
				byName = append(byName, b)
			}
		}
		data, err := readAll(f)
		if err != nil {
			continue // the scan reported it
		}
		if sealedFile(f.Path, data) {
			continue // a copy of ciphertext holds no value
		}
		keys := topKeys(data)
		for _, b := range bundles {
			named := false
			for _, n := range byName {
				named = named || n.rel == b.rel
			}
			all := len(b.top) >= 2
			for _, k := range b.top {
				all = all && keys[k]
			}
			if !named && !all {
				continue
			}
			why := "its name"
			if all {
				why = fmt.Sprintf("all %d of its keys", len(b.top))
				if named {
					why = "its name and " + why
				}
			}
			out = append(out, audit.Finding{Kind: "plaintext-bundle", Rule: RuleDecryptedCopy, Severity: "high", Where: "file", Path: f.Path,
				Message: fmt.Sprintf("a decrypted copy of %s (environment %s), by %s: it holds the values in plaintext; delete it (git rm -f -- %s when it is staged, else rm -- %s); if it was ever committed or shared, renew the values (sealenv rotate %s KEY)", b.rel, b.env, why, f.Path, f.Path, b.rel)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// sealedFile reports whether data is a SOPS file (with metadata).
func sealedFile(path string, data []byte) bool {
	format, err := seal.DetectFormat(path, data)
	if err != nil {
		return false
	}
	_, err = seal.Inspect(format, data)
	return err == nil || !(errors.Is(err, seal.ErrNotSealed) || errors.Is(err, seal.ErrMalformed))
}
