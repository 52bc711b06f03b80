package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"filippo.io/age"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

// PolicyBundles says what [ForAudit] does with the bundles of the policy.
type PolicyBundles int

const (
	// PolicyBundlesNone: not searched (the policy's rules and allowlist
	// still apply).
	PolicyBundlesNone PolicyBundles = iota
	// PolicyBundlesStrict: searched; each must open when an identity is
	// found.
	PolicyBundlesStrict
	// PolicyBundlesLenient: searched when the identity opens them, else
	// only their key names.
	PolicyBundlesLenient
)

// AuditSources say where an audit takes what it searches for.
type AuditSources struct {
	// Policy is the policy file a person named; "" finds sealenv.yaml from
	// the working directory, and none is fine.
	Policy string
	// Bundles must be read and, with an identity, opened.
	Bundles       []string
	PolicyBundles PolicyBundles
	// Store is the bundles' store as a person named it ("": detected).
	Store string
	// Identities returns the identities that open the bundles. Without
	// one, Bundles is an error and the policy's bundles are searched by
	// key name only.
	Identities func() ([]age.Identity, error)
	// Saw is told the key names, then the values, of every bundle read
	// (the CLI keeps them, so that no error of the command shows a value).
	Saw func(names []string, secrets []seal.Secret)
	// Note is told what was not searched, and why.
	Note func(string)
	// Keyless: without an identity, the values of the bundles (Bundles
	// too) are searched by their fingerprints (see audit.Prints), not
	// opened. NoIdentity forces this even when an identity is at hand.
	Keyless, NoIdentity bool
}

// Sealed is what an audit searches for, gathered by [ForAudit].
type Sealed struct {
	// Options holds the sealed values and names, the policy's rules,
	// allowlist and baseline, with what the caller set before.
	Options audit.Options
	// Policy is the policy read, nil without one.
	Policy *policies.Policy
	// Opened are the bundles of [AuditSources.Bundles], opened, in order.
	Opened []Opened

	all    []*seal.Bundle
	prints *keyless // the fingerprints gathered, in a keyless audit
}

// Opened is a bundle that [ForAudit] opened, with its path.
type Opened struct {
	Path string
	*seal.Bundle
}

// Zero zeroes every bundle opened.
func (s *Sealed) Zero() {
	for _, b := range s.all {
		b.Zero()
	}
}

// ForAudit adds to o what an audit searches for: the policy's rules,
// allowlist and baseline, and the sealed values and key names of the
// bundles src names (see [PolicyBundles]). A policy bundle that is still
// plaintext has no values to search for (check and scan report it).
// Values shorter than audit.MinValueLen that the policy's allow_short
// accepts are marked accepted.
func ForAudit(o audit.Options, src AuditSources) (*Sealed, error) {
	s := &Sealed{Options: o}
	pol, err := auditPolicy(src.Policy)
	if err != nil {
		return nil, err
	}
	s.Policy = pol
	refs := s.refs(src)
	if pol != nil {
		if err := s.Options.UsePolicy(pol); err != nil {
			return nil, err
		}
	}
	if len(refs) == 0 {
		return s, nil
	}
	var ids []age.Identity
	idErr := errors.New("no identity")
	if !src.NoIdentity || !src.Keyless {
		ids, idErr = src.identities()
	}
	if idErr != nil && src.Keyless {
		s.prints = &keyless{}
		if !src.NoIdentity {
			src.note(fmt.Sprintf("%v; sealed values are searched by their fingerprints", idErr))
		}
	}
	if idErr != nil && len(src.Bundles) > 0 && s.prints == nil {
		return nil, idErr
	}
	if idErr != nil && s.prints == nil {
		src.note(fmt.Sprintf("%v; sealed values are not searched, only their names", idErr))
	}
	for _, r := range refs {
		if err := s.add(r, ids, idErr == nil, &src); err != nil {
			s.Zero()
			return nil, err
		}
	}
	if s.prints != nil {
		p, err := s.prints.compile()
		if err != nil {
			return nil, err
		}
		s.Options.Prints = p
	}
	return s, nil
}

// auditRef is a bundle to search.
type auditRef struct {
	path string
	must bool
	env  *policies.Environment // the policy's environment whose bundle it is, or nil
}

// refs lists the bundles to search: src.Bundles, then (as
// src.PolicyBundles says) the policy's, each once.
func (s *Sealed) refs(src AuditSources) []auditRef {
	var refs []auditRef
	seen := map[string]bool{}
	add := func(p string, must bool) {
		key := p
		if abs, err := filepath.Abs(p); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			refs = append(refs, auditRef{path: p, must: must, env: bundleEnv(s.Policy, key)})
		}
	}
	for _, p := range src.Bundles {
		add(p, true)
	}
	if s.Policy != nil && src.PolicyBundles != PolicyBundlesNone {
		for i := range s.Policy.Environments {
			add(s.Policy.BundlePath(&s.Policy.Environments[i]), false)
		}
	}
	return refs
}

// add reads the bundle of r, and with identities (haveIDs) opens it, and
// adds its names and values to what is searched.
func (s *Sealed) add(r auditRef, ids []age.Identity, haveIDs bool, src *AuditSources) error {
	f, data, err := bundlefile.Read(r.path, src.Store)
	if err != nil {
		return err
	}
	info, err := seal.Inspect(f, data)
	if errors.Is(err, seal.ErrNotSealed) && !r.must {
		src.note(fmt.Sprintf("%s is not sealed; its values are not searched", r.path))
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	s.Options.SealedNames = append(s.Options.SealedNames, info.Keys...)
	src.saw(info.Keys, nil)
	if s.prints != nil {
		s.prints.add(r.path, info, func(key string) bool { return s.Policy != nil && s.Policy.AllowShort(r.env, key) })
		return nil
	}
	if !haveIDs {
		return nil
	}
	// The audit searches for values, which the MAC authenticates; a name
	// that nothing authenticates does not change what to look for.
	b, err := seal.OpenForReview(f, data, ids...)
	if errors.Is(err, seal.ErrIncorrectIdentity) && !r.must && src.PolicyBundles == PolicyBundlesLenient {
		src.note(fmt.Sprintf("%s: the identity does not open it; only its key names are searched", r.path))
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	s.all = append(s.all, b)
	src.saw(nil, b.Secrets)
	if r.must {
		s.Opened = append(s.Opened, Opened{r.path, b})
	}
	for _, v := range b.Secrets {
		if s.Policy != nil && len(v.Value) < audit.MinValueLen && s.Policy.AllowShort(r.env, v.Name) {
			s.Options.ShortAccepted = append(s.Options.ShortAccepted, len(s.Options.Values))
		}
		s.Options.Values = append(s.Options.Values, v)
	}
	return nil
}

func (src *AuditSources) identities() ([]age.Identity, error) {
	if src.Identities == nil {
		return nil, errors.New("no identity")
	}
	return src.Identities()
}

func (src *AuditSources) note(msg string) {
	if src.Note != nil {
		src.Note(msg)
	}
}

func (src *AuditSources) saw(names []string, secrets []seal.Secret) {
	if src.Saw != nil {
		src.Saw(names, secrets)
	}
}

// auditPolicy reads the policy file path, else the one found from the
// working directory; nil when there is none.
func auditPolicy(path string) (*policies.Policy, error) {
	if path != "" {
		return policies.Load(path)
	}
	found, err := policies.Find(".")
	if errors.Is(err, policies.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return policies.Load(found)
}

// bundleEnv returns the environment of the policy whose bundle is at the
// absolute path abs, or nil.
func bundleEnv(pol *policies.Policy, abs string) *policies.Environment {
	if pol == nil {
		return nil
	}
	for i := range pol.Environments {
		if pol.BundlePath(&pol.Environments[i]) == abs {
			return &pol.Environments[i]
		}
	}
	return nil
}

// ScanFiles searches files as [audit.Files] does, and reports each bundle
// path of the policy among them whose content is not sealed (rule
// unsealed-policy-bundle) and each file that is a decrypted copy of a
// bundle of the policy ([RuleDecryptedCopy]). Findings are in path and
// line order.
func (s *Sealed) ScanFiles(ctx context.Context, files []audit.File) (*audit.Report, error) {
	r, err := audit.Files(ctx, files, s.Options)
	if err != nil {
		return nil, err
	}
	r.Tool, r.Source = "sealenv scan", "files"
	r.Findings = append(r.Findings, unsealedBundles(s.Policy, files)...)
	r.Findings = append(r.Findings, decryptedCopies(s.Policy, files)...)
	sort.SliceStable(r.Findings, func(i, j int) bool {
		if r.Findings[i].Path != r.Findings[j].Path {
			return r.Findings[i].Path < r.Findings[j].Path
		}
		return r.Findings[i].Line < r.Findings[j].Line
	})
	return r, nil
}

// unsealedBundles reports a bundle path of the policy whose scanned
// content has no SOPS metadata.
func unsealedBundles(p *policies.Policy, files []audit.File) []audit.Finding {
	if p == nil {
		return nil
	}
	var out []audit.Finding
	for i := range p.Environments {
		env := &p.Environments[i]
		abs := p.BundlePath(env)
		for _, f := range files {
			fa, err := filepath.Abs(filepath.FromSlash(f.Path))
			if err != nil || fa != abs {
				continue
			}
			data, err := readAll(f)
			if err != nil {
				continue // the scan reported it
			}
			format, err := seal.DetectFormat(f.Path, data)
			if err == nil {
				_, err = seal.Inspect(format, data)
			}
			if errors.Is(err, seal.ErrNotSealed) || errors.Is(err, seal.ErrMalformed) {
				out = append(out, audit.Finding{Kind: "plaintext-bundle", Rule: "unsealed-policy-bundle", Severity: "high", Where: "file",
					Path: f.Path, Message: fmt.Sprintf("the bundle of environment %q is not sealed: sealenv seal --env %s -i FILE", env.Name, env.Name)})
			}
		}
	}
	return out
}

func readAll(f audit.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
