package policies

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
)

// Severity of a violation: errors fail `sealenv check`, warnings do not.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	// SeverityNote is information: what changed outside sealenv.
	SeverityNote Severity = "note"
)

// Rule IDs of check violations.
const (
	RuleBundleMissing    = "bundle-missing"
	RuleNotSealed        = "not-sealed"
	RuleUnreadable       = "bundle-unreadable"
	RuleRecipientMissing = "recipient-missing" // policy lists it, bundle is not wrapped to it
	RuleRecipientRemoved = "recipient-removed" // bundle is wrapped to a key the policy does not list
	RuleKeyGroups        = "key-groups"        // key groups or Shamir threshold differ from the policy
	RuleRequiredMissing  = "required-key-missing"
	RuleUnknownKey       = "unknown-key"
	RuleMaxAge           = "max-age"
	RuleExpiring         = "expiring"
	RuleAgeUnknown       = "age-unknown"
	RuleSetInFuture      = "set-in-future"
	RulePlaintextValue   = "plaintext-value"
	RuleBundleOutside    = "bundle-outside-repository"
	RuleGraceExpired     = "grace-expired"
	RuleUnauthenticated  = "unauthenticated-key"
	RuleChangedOutside   = "changed-outside-sealenv"
	RuleSopsConfig       = "sops-config-mismatch" // .sops.yaml gives the bundle's path other keys
	RuleMinLength        = "min-length"
	RulePattern          = "pattern"
	RulePlaceholder      = "placeholder"
	RuleRepeated         = "repeated-characters"
	RuleLowEntropy       = "low-entropy"
	RuleReused           = "reused-value"
	RuleRefusedName      = "refused-name" // a name the injector refuses and allow_names does not allow
)

// Violation is one finding of `sealenv check`. It never holds a value.
type Violation struct {
	Env      string   `json:"environment"`
	Bundle   string   `json:"bundle"` // relative to the policy root
	Key      string   `json:"key,omitempty"`
	Line     int      `json:"line,omitempty"` // of the key in the bundle, when known
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// CheckOptions configure [Policy.Check].
type CheckOptions struct {
	Now        time.Time
	Env        string         // only this environment; "" for all
	Identities []age.Identity // with identities, values are checked too
	// Open opens a bundle with the identities, returning the names that
	// nothing authenticates rather than failing on them (check reports
	// them); nil is [seal.OpenForReview]. The CLI passes one that also
	// opens KMS, PGP and Shamir bundles.
	Open func(format seal.Format, data []byte, ids ...age.Identity) (*seal.Bundle, error)
	// SopsKeys returns the keys that sops's configuration (.sops.yaml)
	// gives a file at path, which sops encrypt and sops updatekeys use,
	// and the configuration's name; nil groups when none applies. nil
	// skips the comparison.
	SopsKeys func(path string) (config string, groups [][]seal.MasterKey, threshold int, err error)
}

// clockSkew is how far in the future a set time may be before check calls
// it an error: clocks of two machines disagree by seconds, not minutes.
const clockSkew = 5 * time.Minute

// Check evaluates every environment (or one) against the policy. The error
// is for failures to run the check at all (an unknown environment);
// problems with bundles are violations.
func (p *Policy) Check(opts CheckOptions) ([]Violation, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	envs := p.Environments
	if opts.Env != "" {
		e, err := p.Env(opts.Env)
		if err != nil {
			return nil, err
		}
		envs = []Environment{*e}
	}
	var out []Violation
	type seen struct{ env, key string }
	values := map[[32]byte][]seen{}
	for i := range envs {
		env := &envs[i]
		vs, opened := p.checkEnv(env, opts)
		out = append(out, vs...)
		if opened != nil {
			for _, s := range opened.Secrets {
				if len(s.Value) < 8 || opened.Meta[s.Name].GraceOf != "" {
					continue
				}
				h := sha256.Sum256(s.Value)
				values[h] = append(values[h], seen{env.Name, s.Name})
			}
			opened.Zero()
		}
	}
	// The same value in two environments: a leak in one is a leak in both.
	for _, uses := range values {
		envsSeen := map[string]bool{}
		for _, u := range uses {
			envsSeen[u.env] = true
		}
		if len(envsSeen) < 2 {
			continue
		}
		var where []string
		for _, u := range uses {
			where = append(where, u.key+" in "+u.env)
		}
		sort.Strings(where)
		env, _ := p.Env(uses[0].env)
		out = append(out, Violation{Env: uses[0].env, Bundle: env.Bundle, Key: uses[0].key, Rule: RuleReused, Severity: SeverityError,
			Message: "the same value is used by " + strings.Join(where, ", ") + "; give each environment its own"})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Env != out[j].Env {
			return out[i].Env < out[j].Env
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

func (p *Policy) checkEnv(env *Environment, opts CheckOptions) ([]Violation, *seal.Bundle) {
	var out []Violation
	path, rerr := p.ResolveBundle(env)
	var data []byte
	var err error
	if rerr == nil {
		data, err = os.ReadFile(path)
	}
	v := func(key, rule string, sev Severity, format string, args ...any) {
		out = append(out, Violation{Env: env.Name, Bundle: env.Bundle, Key: key, Line: keyLine(data, key), Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	if rerr != nil {
		v("", RuleBundleOutside, SeverityError, "%v", rerr)
		return out, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		v("", RuleBundleMissing, SeverityError, "bundle %s does not exist: run sealenv seal --env %s", env.Bundle, env.Name)
		return out, nil
	}
	if err != nil {
		v("", RuleUnreadable, SeverityError, "cannot read %s: %v", env.Bundle, err)
		return out, nil
	}
	format, err := seal.DetectFormat(path, data)
	if err != nil {
		v("", RuleUnreadable, SeverityError, "%v", err)
		return out, nil
	}
	info, err := seal.Inspect(format, data)
	if errors.Is(err, seal.ErrNotSealed) {
		v("", RuleNotSealed, SeverityError, "%s is not sealed (no sops metadata): seal it with sealenv seal --env %s -i %s and delete the plaintext", env.Bundle, env.Name, env.Bundle)
		return out, nil
	}
	if err != nil {
		v("", RuleUnreadable, SeverityError, "%v", err)
		return out, nil
	}

	// Who sealed it, when the policy says who may.
	out = append(out, p.checkSignature(env, path, data, opts.Now)...)

	// Names the injector refuses at container start.
	for _, k := range info.Keys {
		var ne *inject.NameError
		if err := inject.RefusedName(k, env.AllowNames, nil); errors.As(err, &ne) {
			if ne.Reserved {
				v(k, RuleRefusedName, SeverityError, "%v: the injector refuses the bundle; remove it (sealenv unset --env %s %s)", err, env.Name, k)
			} else {
				v(k, RuleRefusedName, SeverityError, "%v: the injector refuses the bundle at start; if this is intended, add %s to allow_names of environment %s in %s, else remove it (sealenv unset --env %s %s)", err, k, env.Name, FileName, env.Name, k)
			}
		}
	}

	// Who may decrypt: every key of every type, group by group.
	d := env.Drift(info)
	for _, a := range d.Add {
		v("", RuleRecipientMissing, SeverityError, "bundle is not wrapped to %s (%s)%s yet: run sealenv rekey --env %s", short(a.Key.String()), ownerOr(a.Owner), inGroup(a.Key, d), env.Name)
	}
	for _, r := range d.Remove {
		v("", RuleRecipientRemoved, SeverityError, "bundle is still wrapped to %s%s, which the policy does not list: run sealenv rekey --env %s, then renew every value it could read", short(r.Key.String()), inGroup(r.Key, d), env.Name)
	}
	if d.Groups {
		v("", RuleKeyGroups, SeverityError, "bundle has %s, the policy %s: run sealenv rekey --env %s", groupsText(d.HaveGroups, d.HaveThreshold), groupsText(d.WantGroups, d.WantThreshold), env.Name)
	}
	// sops's configuration must say the same: sops updatekeys applies it.
	if opts.SopsKeys != nil {
		conf, groups, threshold, err := opts.SopsKeys(path)
		switch {
		case err != nil:
			v("", RuleSopsConfig, SeverityError, "%v", err)
		case groups != nil:
			if msg := sopsDisagreement(env, groups, threshold); msg != "" {
				v("", RuleSopsConfig, SeverityError, "%s and %s disagree on who may decrypt %s (%s); sops updatekeys would apply %s: make them agree", conf, FileName, env.Bundle, msg, conf)
			}
		}
	}

	// With an identity, metadata is authenticated; without, Inspect's is
	// all there is.
	var opened *seal.Bundle
	meta := info.Meta
	recorded, changes, unauth, lastModified := info.Recorded, info.Changes, info.Unauthenticated, info.LastModified
	if len(opts.Identities) > 0 {
		open := opts.Open
		if open == nil {
			open = seal.OpenForReview
		}
		b, err := open(format, data, opts.Identities...)
		if err != nil {
			v("", RuleUnreadable, SeverityError, "cannot open %s: %v", env.Bundle, err)
		} else {
			opened, meta = b, b.Meta
			recorded, changes, unauth, lastModified = b.Recorded, b.Changes, b.Unauthenticated, b.LastModified
		}
	}
	// What changed outside sealenv (sops edit): authenticated changes are
	// news, the others wait for a review and sealenv adopt.
	lm := lastModified.UTC().Format(time.RFC3339)
	if !recorded {
		for _, k := range unauth {
			v(k, RuleUnauthenticated, SeverityError, "%s has an empty or unencrypted value in a SOPS file sealenv has not adopted, so nothing authenticates its name: review the bundle, then run sealenv adopt %s", k, env.Bundle)
		}
	}
	for _, ch := range changes {
		if !ch.Authenticated {
			v(ch.Name, RuleUnauthenticated, SeverityError, "%s outside sealenv, and nothing authenticates it (SOPS does not protect the names of empty or unencrypted values); the injector refuses the bundle: review it, then run sealenv adopt %s", ch, env.Bundle)
			continue
		}
		v(ch.Name, RuleChangedOutside, SeverityNote, "%s by another tool (the file's last change: %s); sealenv adopt %s or any sealenv write records it", ch, lm, env.Bundle)
	}
	if recorded {
		meta = seal.EffectiveMeta(meta, changes, lastModified)
	}

	// A value typed into the file by hand is plaintext in the repository,
	// whatever the MAC says later.
	plain, err := seal.UnsealedValues(format, data)
	if err != nil {
		v("", RuleUnreadable, SeverityError, "%v", err)
	}
	for _, k := range plain {
		v(k, RulePlaintextValue, SeverityError, "%s is stored in plaintext, not encrypted (typed into the file?): treat the value as leaked, then set a new one with sealenv set %s %s", k, env.Bundle, k)
	}

	keys := map[string]bool{}
	for _, k := range info.Keys {
		keys[k] = true
	}
	for _, k := range p.RequiredKeys(env) {
		if !keys[k] {
			v(k, RuleRequiredMissing, SeverityError, "required key %s is missing: sealenv set %s %s", k, env.Bundle, k)
		}
	}
	declares := p.DeclaresKeys(env)
	for _, k := range info.Keys {
		m := meta[k]
		if declares && !p.Declared(env, k) && !(m.GraceOf != "" && p.Declared(env, m.GraceOf)) {
			v(k, RuleUnknownKey, SeverityError, "%s is not declared in %s (keys:, required: or a service)", k, FileName)
		}
		if m.Set.After(opts.Now.Add(clockSkew)) {
			v(k, RuleSetInFuture, SeverityError, "%s was set %s in the future (%s): a wrong clock or an edited metadata line; its age cannot be checked, give it a new value: %s", k, days(m.Set.Sub(opts.Now)), m.Set.UTC().Format(time.RFC3339), renewHint(p.Rule(k), env.Bundle, k))
		}
		if m.GraceOf != "" {
			if meta.Expired(k, opts.Now) {
				v(k, RuleGraceExpired, SeverityError, "grace value %s expired %s ago: any write drops it (sealenv unset %s %s)", k, days(opts.Now.Sub(*m.Expires)), env.Bundle, k)
			}
			continue
		}
		rule := p.Rule(k)
		if rule.MaxAge > 0 {
			_, known := meta[k]
			switch old := opts.Now.Sub(m.Set); {
			case m.Set.After(opts.Now.Add(clockSkew)):
				// Not checked below: a set time in the future silences max_age.
			case !known || m.Set.IsZero():
				v(k, RuleAgeUnknown, SeverityWarning, "%s has no recorded set time (a SOPS file sealenv has not adopted?): sealenv adopt %s records the file's lastmodified, or give it a new value to start its clock: %s", k, env.Bundle, renewHint(rule, env.Bundle, k))
			case old >= rule.MaxAge.D():
				v(k, RuleMaxAge, SeverityError, "%s is %s old, older than max_age %s: %s", k, days(old), days(rule.MaxAge.D()), renewHint(rule, env.Bundle, k))
			case rule.WarnBefore > 0 && old >= rule.MaxAge.D()-rule.WarnBefore.D():
				v(k, RuleExpiring, SeverityWarning, "%s reaches max_age %s in %s: renew it soon: %s", k, days(rule.MaxAge.D()), days(rule.MaxAge.D()-old), renewHint(rule, env.Bundle, k))
			}
		}
	}
	if opened != nil {
		for _, s := range opened.Secrets {
			if opened.Meta[s.Name].GraceOf != "" {
				continue
			}
			for _, prob := range p.CheckValue(s.Name, s.Value) {
				v(s.Name, prob.Rule, prob.Severity, "%s", prob.Message)
			}
		}
	}
	return out, opened
}

// sopsDisagreement describes how the keys a .sops.yaml creation rule gives
// (groups, threshold) differ from the environment's; "" when they agree.
func sopsDisagreement(env *Environment, groups [][]seal.MasterKey, threshold int) string {
	info := &seal.Info{ShamirThreshold: threshold}
	if len(groups) > 1 {
		info.KeyGroups = len(groups)
	}
	for g, keys := range groups {
		for _, k := range keys {
			k.Group = g
			info.MasterKeys = append(info.MasterKeys, k)
		}
	}
	d := env.Drift(info)
	var parts []string
	for _, a := range d.Add {
		parts = append(parts, fmt.Sprintf("only %s lists %s (%s)", FileName, short(a.Key.String()), ownerOr(a.Owner)))
	}
	for _, r := range d.Remove {
		parts = append(parts, fmt.Sprintf("only .sops.yaml lists %s", short(r.Key.String())))
	}
	if d.Groups {
		parts = append(parts, fmt.Sprintf(".sops.yaml has %s, %s %s", groupsText(d.HaveGroups, d.HaveThreshold), FileName, groupsText(d.WantGroups, d.WantThreshold)))
	}
	return strings.Join(parts, "; ")
}

// Problem is what [Policy.CheckValue] finds wrong with a value.
type Problem struct {
	Rule     string
	Severity Severity
	Message  string // never contains the value
}

// DefaultPlaceholders are values nobody should deploy, in any key. A value
// equal to one (ignoring case and surrounding space) is a placeholder.
var DefaultPlaceholders = []string{
	"changeme", "change-me", "change_me", "changeit", "your-secret-key", "your_secret_key", "yoursecretkey",
	"your-api-key", "your_api_key", "replace-me", "replace_me", "replaceme", "todo", "tbd", "fixme", "xxx", "xxxx",
}

// CredentialPlaceholders are placeholders only in a credential (a key whose
// rule has min_length, a pattern or a generator): "default" or "none" are
// ordinary values of a setting.
var CredentialPlaceholders = []string{
	"secret", "password", "passw0rd", "example", "placeholder", "dummy", "test", "testing", "default", "sample",
	"null", "none", "undefined", "123456", "12345678", "admin", "letmein",
}

// placeholderParts are substrings that mark a value as a placeholder anywhere.
var placeholderParts = []string{"changeme", "change-me", "change_me", "your-secret", "your_secret", "replace-me", "replace_me", "<secret>", "<password>"}

// renewHint is the command that gives key a new value: sealenv rotate
// where the policy has a generator for it; otherwise rotate --stdin, a
// value the person supplies, because rotate's random default would replace
// a value with a form of its own (a database URL, a vendor's key) with
// random bytes.
func renewHint(rule KeyRule, bundle, key string) string {
	if rule.Generator != nil {
		return fmt.Sprintf("sealenv rotate %s %s", bundle, key)
	}
	return fmt.Sprintf("sealenv rotate --stdin %s %s (the policy has no generator for %s: give the new value)", bundle, key, key)
}

// CheckValue checks a value against the key's rule. Placeholders are checked
// for every key; repeated characters and low entropy for keys that the
// policy treats as credentials (a rule with min_length, a pattern or a
// generator).
func (p *Policy) CheckValue(key string, value []byte) []Problem {
	var out []Problem
	add := func(rule string, sev Severity, format string, args ...any) {
		out = append(out, Problem{Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	r := p.Rule(key)
	v := strings.ToLower(strings.TrimSpace(string(value)))
	if r.MinLength > 0 && len(value) < r.MinLength {
		add(RuleMinLength, SeverityError, "%s is %d characters, shorter than min_length %d", key, len(value), r.MinLength)
	}
	if r.pattern != nil && !r.pattern.Match(value) {
		add(RulePattern, SeverityError, "%s does not match its pattern %s", key, r.Pattern)
	}
	credential := r.MinLength > 0 || r.pattern != nil || r.Generator != nil
	words := append(append([]string{}, DefaultPlaceholders...), r.Forbid...)
	if credential {
		words = append(words, CredentialPlaceholders...)
	}
	placeholder := false
	for _, ph := range words {
		if v == strings.ToLower(ph) {
			placeholder = true
		}
	}
	for _, part := range placeholderParts {
		if strings.Contains(v, part) {
			placeholder = true
		}
	}
	if placeholder {
		add(RulePlaceholder, SeverityError, "%s holds a placeholder value", key)
	}
	if credential && len(value) >= 4 && !placeholder {
		if repeated(value) {
			add(RuleRepeated, SeverityError, "%s is one short sequence repeated", key)
		} else if e := rules.Entropy(value); len(value) >= 8 && e < 2.5 {
			add(RuleLowEntropy, SeverityError, "%s has low entropy (%.1f bits per character; random values have 4 or more)", key, e)
		}
	}
	return out
}

// repeated reports whether v is a unit of at most 3 bytes repeated.
func repeated(v []byte) bool {
	for unit := 1; unit <= 3 && unit < len(v); unit++ {
		if len(v)%unit != 0 {
			continue
		}
		ok := true
		for i := unit; i < len(v); i++ {
			if v[i] != v[i%unit] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// keyLine finds the line of a key in bundle text (dotenv "KEY=", a
// top-level YAML "KEY:", or a JSON "KEY": at any indentation), for SARIF
// locations and editors.
func keyLine(data []byte, key string) int {
	if key == "" {
		return 0
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, key+"=") || strings.HasPrefix(l, key+":") || strings.HasPrefix(strings.TrimLeft(l, " \t"), `"`+key+`":`) {
			return i + 1
		}
	}
	return 0
}

// inGroup names the key group of k when there are groups.
func inGroup(k seal.MasterKey, d Drift) string {
	switch {
	case k.Group == seal.OutsideGroups:
		return " outside its key groups"
	case d.HaveGroups > 0 || d.WantGroups > 0:
		return fmt.Sprintf(" in key group %d", k.Group)
	}
	return ""
}

func groupsText(groups, threshold int) string {
	if groups == 0 {
		return "no key groups"
	}
	return fmt.Sprintf("%d key groups with threshold %d", groups, threshold)
}

func short(k string) string { return recipients.Short(k) }

func ownerOr(o string) string {
	if o == "" {
		return "no owner label"
	}
	return o
}

func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
