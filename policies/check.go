package policies

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/audit/rules"
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
	out = append(out, p.CheckNested()...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Env != out[j].Env {
			return out[i].Env < out[j].Env
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
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
