package policies

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/sealenv/sealenv/seal/signature"
)

// Rule IDs of trust changes: what a change of the policy does to who may
// decrypt, sign, or slip past the injector and the audit ([Policy.TrustChanges]).
const (
	RuleRecipientAdded    = "recipient-added"     // a key that may now decrypt an environment's bundle
	RuleThresholdLowered  = "threshold-lowered"   // fewer Shamir key groups open the bundle
	RuleSignerAdded       = "signer-added"        // a key that may now sign an environment's bundle
	RuleSignerRemoved     = "signer-removed"      // a signer gone; with none left, unsigned bundles pass
	RuleAllowNamesWidened = "allow-names-widened" // the injector now passes a name it refuses by default
	RuleAllowShortWidened = "allow-short-widened" // more values the audit does not search
	RuleAllowlistWidened  = "allowlist-widened"   // an audit allowlist entry or baseline added or changed, a custom rule removed
	RuleGeneratorChanged  = "generator-changed"   // a generator added or changed: rotate runs it with the keys at hand
	RuleKeyRuleWeakened   = "key-rule-weakened"   // a value rule (min_length, pattern, forbid, max_age) loosened or removed
	RuleServiceWidened    = "service-widened"     // a service may now receive more keys or environments
	RuleBundleMoved       = "bundle-moved"        // an environment's bundle is now another file
	RuleNestedPolicyNamed = "nested-policy-named" // nested_policies names another policy
	RuleEnvironmentAdded  = "environment-added"   // a new environment and its recipients
	RulePolicyNew         = "policy-new"          // no policy at the base: everything in it is new
	RulePublicWidened     = "public-widened"      // public lists a new key: its value may be stored unencrypted
)

// TrustOptions configure [Policy.TrustChanges].
type TrustOptions struct {
	// Base names the base in messages (a git ref).
	Base string
	// Severity of every finding; "" is [SeverityError].
	Severity Severity
	// AddedBy says which commit added text (a recipient's key) to the
	// policy file since the base, and its author ("" when the text is not
	// in a commit yet). nil leaves it out.
	AddedBy func(text string) (string, error)
}

// TrustChanges compares p with base, the same policy file as it was at the
// base of a change (a pull request's target), and reports every way the
// change widens trust: recipients, environments and nested policies added,
// a lower Shamir threshold, signers added or removed, allow_names,
// allow_short, audit allowlists and public keys widened, generators added
// or changed, value rules loosened, services given more, bundles moved.
// A nil base means the file is new there: each environment is reported.
// The error is for an AddedBy that fails.
func (p *Policy) TrustChanges(base *Policy, opts TrustOptions) ([]Violation, error) {
	t := &trust{p: p, opts: opts, sev: opts.Severity}
	if t.sev == "" {
		t.sev = SeverityError
	}
	if opts.Base == "" {
		t.opts.Base = "the base"
	}
	if base == nil {
		t.add("", RulePolicyNew, "%s is not in %s: review all of it", FileName, t.opts.Base)
		base = &Policy{}
	}
	for i := range p.Environments {
		env := &p.Environments[i]
		old, _ := base.Env(env.Name)
		if err := t.environment(env, old); err != nil {
			return nil, err
		}
	}
	t.keyRules(base)
	t.services(base)
	t.audit(base)
	for _, k := range p.Public {
		if !slices.Contains(base.Public, k) {
			t.add("", RulePublicWidened, "public now lists %s: check accepts its value stored unencrypted", k)
		}
	}
	for _, n := range p.NestedPolicies {
		if !slices.ContainsFunc(base.NestedPolicies, func(o NestedPolicy) bool { return o.Path == n.Path }) {
			t.add("", RuleNestedPolicyNamed, "nested_policies now names %s (%s): review that policy's recipients too", n.Path, n.Reason)
		}
	}
	return t.out, nil
}

type trust struct {
	p    *Policy
	opts TrustOptions
	sev  Severity
	out  []Violation
}

// add records a finding located in the policy file (which the change
// changed; the bundle is in the message).
func (t *trust) add(env, rule, format string, args ...any) {
	bundle := filepath.Base(t.p.Path)
	t.out = append(t.out, Violation{Env: env, Bundle: bundle, Rule: rule, Severity: t.sev, Message: fmt.Sprintf(format, args...)})
}

// keyText is the key as the policy file spells it.
func keyText(r Recipient) string {
	for _, s := range []string{r.Key, r.PGP, r.KMS, r.GCPKMS, r.AzureKV, r.Vault, r.HCKMS} {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

func (t *trust) environment(env, old *Environment) error {
	if old == nil {
		t.add(env.Name, RuleEnvironmentAdded, "environment %s is new (bundle %s)", env.Name, env.Bundle)
		old = &Environment{}
	} else if clean(old.Bundle) != clean(env.Bundle) {
		t.add(env.Name, RuleBundleMoved, "the bundle of %s was %s in %s, now %s: review that file", env.Name, old.Bundle, t.opts.Base, env.Bundle)
	}
	had := map[string]bool{}
	for _, g := range old.groups {
		for _, r := range g {
			had[r.master.String()] = true
		}
	}
	for _, g := range env.groups {
		for _, r := range g {
			if had[r.master.String()] {
				continue
			}
			who := ""
			if t.opts.AddedBy != nil {
				by, err := t.opts.AddedBy(keyText(r))
				if err != nil {
					return err
				}
				if by == "" {
					by = "a change not committed yet"
				}
				who = "; added by " + by
			}
			t.add(env.Name, RuleRecipientAdded, "%s (%s) may now decrypt %s%s: confirm with its owner, out of band, that the key is theirs before anyone runs sealenv rekey --env %s", short(r.master.String()), ownerOr(r.Owner), env.Bundle, who, env.Name)
		}
	}
	if len(old.KeyGroups) > 0 && old.Threshold() > 0 && env.Threshold() < old.Threshold() {
		t.add(env.Name, RuleThresholdLowered, "%s opens with %d key groups, down from %d", env.Bundle, max(env.Threshold(), 1), old.Threshold())
	}
	oldSigners, newSigners := signerLines(old), signerLines(env)
	for _, l := range newSigners {
		if !slices.Contains(oldSigners, l) {
			t.add(env.Name, RuleSignerAdded, "%s may now sign %s", l, env.Bundle)
		}
	}
	for _, l := range oldSigners {
		if !slices.Contains(newSigners, l) {
			t.add(env.Name, RuleSignerRemoved, "%s may no longer sign %s", l, env.Bundle)
		}
	}
	if old.Signed() && !env.Signed() {
		t.add(env.Name, RuleSignerRemoved, "%s has no signers now: check and the injector accept its bundle unsigned", env.Name)
	}
	for _, n := range env.AllowNames {
		if !slices.Contains(old.AllowNames, n) {
			t.add(env.Name, RuleAllowNamesWidened, "the injector now passes %s from %s (a name it refuses by default: it can load code or redirect connections)", n, env.Bundle)
		}
	}
	switch {
	case env.AllowShort.All && !old.AllowShort.All:
		t.add(env.Name, RuleAllowShortWidened, "allow_short: true: no short value of %s is searched by the audit", env.Bundle)
	case !old.AllowShort.All:
		for _, k := range env.AllowShort.Keys {
			if !slices.Contains(old.AllowShort.Keys, k) {
				t.add(env.Name, RuleAllowShortWidened, "allow_short now lists %s: the audit does not search its value when short", k)
			}
		}
	}
	return nil
}

// signerLines are the environment's signers as allowed signers lines
// (principal and key), without comments.
func signerLines(e *Environment) []string {
	if e.allowed == nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(e.allowedText), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, describeSigner(l))
	}
	return out
}

// describeSigner shortens an allowed signers line to its principals and
// the key's fingerprint, when it parses.
func describeSigner(line string) string {
	a, err := signature.ParseAllowedSigners([]byte(line + "\n"))
	if err != nil || len(a.Keys()) != 1 {
		return line
	}
	e := a.Keys()[0]
	return strings.Join(e.Principals, ",") + " " + e.Key.Type + " " + e.Key.Fingerprint()
}

func (t *trust) keyRules(base *Policy) {
	names := []string{""}
	for k := range t.p.Keys {
		names = append(names, k)
	}
	sort.Strings(names[1:])
	for _, k := range names {
		var now, was KeyRule
		label := "key " + k
		if k == "" {
			now, was, label = t.p.Defaults, base.Defaults, "defaults"
		} else {
			now = *t.p.Keys[k]
			if o := base.Keys[k]; o != nil {
				was = *o
			}
		}
		if now.Generator != nil && !reflect.DeepEqual(now.Generator, was.Generator) {
			what := "changed"
			if was.Generator == nil {
				what = "added"
			}
			t.add("", RuleGeneratorChanged, "%s: generator %s: rotate runs it where the keys are; review what it runs", label, what)
		}
		var loose []string
		if was.MinLength > 0 && now.MinLength < was.MinLength {
			loose = append(loose, fmt.Sprintf("min_length %d, was %d", now.MinLength, was.MinLength))
		}
		if was.Pattern != "" && now.Pattern != was.Pattern {
			loose = append(loose, "pattern changed")
		}
		for _, f := range was.Forbid {
			if !slices.Contains(now.Forbid, f) {
				loose = append(loose, "forbid lost an entry")
				break
			}
		}
		if was.MaxAge > 0 && (now.MaxAge == 0 || now.MaxAge > was.MaxAge) {
			loose = append(loose, "max_age longer or gone")
		}
		if now.AllowShort && !was.AllowShort {
			t.add("", RuleAllowShortWidened, "%s: allow_short: the audit does not search short values", label)
		}
		if len(loose) > 0 {
			t.add("", RuleKeyRuleWeakened, "%s: %s", label, strings.Join(loose, "; "))
		}
	}
}

func (t *trust) services(base *Policy) {
	for _, s := range t.p.Services {
		var old *Service
		for i := range base.Services {
			if base.Services[i].Name == s.Name {
				old = &base.Services[i]
			}
		}
		if old == nil {
			continue // a new service only narrows what one consumer receives
		}
		var more []string
		for _, k := range s.Keys {
			if !slices.Contains(old.Keys, k) {
				more = append(more, k)
			}
		}
		if len(old.Keys) > 0 && len(s.Keys) == 0 {
			more = append(more, "every key")
		}
		for _, e := range s.Environments {
			if len(old.Environments) > 0 && !slices.Contains(old.Environments, e) {
				more = append(more, "environment "+e)
			}
		}
		if len(old.Environments) > 0 && len(s.Environments) == 0 {
			more = append(more, "every environment")
		}
		if len(more) > 0 {
			t.add("", RuleServiceWidened, "service %s now receives %s", s.Name, strings.Join(more, ", "))
		}
	}
}

func (t *trust) audit(base *Policy) {
	for _, a := range t.p.Audit.Allowlist {
		if !slices.Contains(base.Audit.Allowlist, a) {
			t.add("", RuleAllowlistWidened, "audit allowlist entry (rule %q, path %q%s) is new: findings it matches are no longer reported (reason given: %s)", a.Rule, a.Path, secretNote(a.Secret), a.Reason)
		}
	}
	if b := t.p.Audit.Baseline; b != nil && (base.Audit.Baseline == nil || *b != *base.Audit.Baseline) {
		t.add("", RuleAllowlistWidened, "audit baseline %s is new or changed: the findings it lists are no longer reported", b.File)
	}
	for _, r := range base.Audit.Rules {
		if !slices.ContainsFunc(t.p.Audit.Rules, func(n CustomRule) bool { return n.ID == r.ID && n.Regex == r.Regex }) {
			t.add("", RuleAllowlistWidened, "custom audit rule %s was removed or changed", r.ID)
		}
	}
}

// secretNote says that an allowlist entry names a secret, without it.
func secretNote(s string) string {
	if s == "" {
		return ""
	}
	return ", a secret"
}

func clean(p string) string {
	if p == "" {
		return ""
	}
	return strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./")
}
