package policies

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/seal"
)

// envCheck is the check of one environment's bundle, phase by phase (see
// [Policy.checkEnv]).
type envCheck struct {
	p    *Policy
	env  *Environment
	opts CheckOptions
	out  []Violation

	path   string // the bundle, symlinks followed
	data   []byte
	format seal.Format
	info   *seal.Info

	// What the bundle says of itself: authenticated when an identity
	// opened it (opened), else as [seal.Inspect] reads it.
	opened       *seal.Bundle
	meta         seal.Meta
	recorded     bool
	changes      []seal.Change
	unauth       []string
	lastModified time.Time
}

// v adds a violation about key (or the bundle, "").
func (c *envCheck) v(key, rule string, sev Severity, format string, args ...any) {
	c.out = append(c.out, Violation{Env: c.env.Name, Bundle: c.env.Bundle, Key: key, Line: keyLine(c.data, key), Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// checkEnv checks one environment: the violations, and the bundle opened
// with the identities (nil without), which the caller zeroes.
func (p *Policy) checkEnv(env *Environment, opts CheckOptions) ([]Violation, *seal.Bundle) {
	c := &envCheck{p: p, env: env, opts: opts}
	if !c.read() {
		return c.out, nil
	}
	c.out = append(c.out, p.checkSignature(env, c.path, c.data, opts.Now)...) // who sealed it, when the policy says who may
	c.refusedNames()
	c.recipients()
	c.open()
	c.changesOutside()
	c.fingerprints()
	c.plaintext()
	c.plaintextByRule()
	c.requiredKeys()
	c.eachKey()
	c.values()
	return c.out, c.opened
}

// read reads and inspects the bundle; false when there is nothing more to
// check (missing, outside the repository, unreadable, not sealed).
func (c *envCheck) read() bool {
	env := c.env
	path, err := c.p.ResolveBundle(env)
	if err != nil {
		c.v("", RuleBundleOutside, SeverityError, "%v", err)
		return false
	}
	c.path = path
	c.data, err = os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.v("", RuleBundleMissing, SeverityError, "bundle %s does not exist: run sealenv seal --env %s", env.Bundle, env.Name)
		return false
	case err != nil:
		c.v("", RuleUnreadable, SeverityError, "cannot read %s: %v", env.Bundle, err)
		return false
	}
	if c.format, err = seal.DetectFormat(path, c.data); err != nil {
		c.v("", RuleUnreadable, SeverityError, "%v", err)
		return false
	}
	c.info, err = seal.Inspect(c.format, c.data)
	switch {
	case errors.Is(err, seal.ErrNotSealed):
		c.v("", RuleNotSealed, SeverityError, "%s is not sealed (no sops metadata): seal it with sealenv seal --env %s -i %s and delete the plaintext", env.Bundle, env.Name, env.Bundle)
		return false
	case err != nil:
		c.v("", RuleUnreadable, SeverityError, "%v", err)
		return false
	}
	return true
}

// refusedNames reports names the injector refuses at container start.
func (c *envCheck) refusedNames() {
	env := c.env
	for _, k := range c.info.Keys {
		var ne *inject.NameError
		if err := inject.RefusedName(k, env.AllowNames, nil); errors.As(err, &ne) {
			if ne.Reserved {
				c.v(k, RuleRefusedName, SeverityError, "%v: the injector refuses the bundle; remove it (sealenv unset --env %s %s)", err, env.Name, k)
			} else {
				c.v(k, RuleRefusedName, SeverityError, "%v: the injector refuses the bundle at start; if this is intended, add %s to allow_names of environment %s in %s, else remove it (sealenv unset --env %s %s)", err, k, env.Name, FileName, env.Name, k)
			}
		}
	}
}

// recipients compares who may decrypt, every key of every type, group by
// group, with the policy, and with sops's configuration, which sops
// updatekeys applies.
func (c *envCheck) recipients() {
	env := c.env
	d := env.Drift(c.info)
	for _, a := range d.Add {
		c.v("", RuleRecipientMissing, SeverityError, "bundle is not wrapped to %s (%s)%s yet: first review who added it to %s and confirm with its owner that the key is theirs (sealenv check --base REF names the commit), then run sealenv rekey --env %s", short(a.Key.String()), ownerOr(a.Owner), inGroup(a.Key, d), FileName, env.Name)
	}
	for _, r := range d.Remove {
		c.v("", RuleRecipientRemoved, SeverityError, "bundle is still wrapped to %s%s, which the policy does not list: run sealenv rekey --env %s, then renew every value it could read", short(r.Key.String()), inGroup(r.Key, d), env.Name)
	}
	if d.Groups {
		c.v("", RuleKeyGroups, SeverityError, "bundle has %s, the policy %s: run sealenv rekey --env %s", groupsText(d.HaveGroups, d.HaveThreshold), groupsText(d.WantGroups, d.WantThreshold), env.Name)
	}
	if c.opts.SopsKeys == nil {
		return
	}
	conf, groups, threshold, err := c.opts.SopsKeys(c.path)
	switch {
	case err != nil:
		c.v("", RuleSopsConfig, SeverityError, "%v", err)
	case groups != nil:
		if msg := sopsDisagreement(env, groups, threshold); msg != "" {
			c.v("", RuleSopsConfig, SeverityError, "%s and %s disagree on who may decrypt %s (%s); sops updatekeys would apply %s: make them agree", conf, FileName, env.Bundle, msg, conf)
		}
	}
}

// open opens the bundle with the identities, if any: then its metadata is
// authenticated; without, what Inspect read is all there is.
func (c *envCheck) open() {
	info := c.info
	c.meta = info.Meta
	c.recorded, c.changes, c.unauth, c.lastModified = info.Recorded, info.Changes, info.Unauthenticated, info.LastModified
	if len(c.opts.Identities) == 0 {
		return
	}
	open := c.opts.Open
	if open == nil {
		open = seal.OpenForReview
	}
	b, err := open(c.format, c.data, c.opts.Identities...)
	if err != nil {
		c.v("", RuleUnreadable, SeverityError, "cannot open %s: %v", c.env.Bundle, err)
		return
	}
	c.opened, c.meta = b, b.Meta
	c.recorded, c.changes, c.unauth, c.lastModified = b.Recorded, b.Changes, b.Unauthenticated, b.LastModified
}

// changesOutside reports what changed outside sealenv (sops edit):
// authenticated changes are news, the others wait for a review and
// sealenv adopt. It leaves the metadata in effect in c.meta.
func (c *envCheck) changesOutside() {
	env := c.env
	lm := c.lastModified.UTC().Format(time.RFC3339)
	if !c.recorded {
		for _, k := range c.unauth {
			c.v(k, RuleUnauthenticated, SeverityError, "%s has an empty or unencrypted value in a SOPS file sealenv has not adopted, so nothing authenticates its name: review the bundle, then run sealenv adopt %s", k, env.Bundle)
		}
	}
	for _, ch := range c.changes {
		if !ch.Authenticated {
			c.v(ch.Name, RuleUnauthenticated, SeverityError, "%s outside sealenv, and nothing authenticates it (SOPS does not protect the names of empty or unencrypted values); the injector refuses the bundle: review it, then run sealenv adopt %s", ch, env.Bundle)
			continue
		}
		c.v(ch.Name, RuleChangedOutside, SeverityNote, "%s by another tool (the file's last change: %s); sealenv adopt %s or any sealenv write records it", ch, lm, env.Bundle)
	}
	if c.recorded {
		c.meta = seal.EffectiveMeta(c.meta, c.changes, c.lastModified)
	}
}

// plaintext reports values typed into the file by hand: plaintext in the
// repository, whatever the MAC says later.
func (c *envCheck) plaintext() {
	plain, err := seal.UnsealedValues(c.format, c.data)
	if err != nil {
		c.v("", RuleUnreadable, SeverityError, "%v", err)
	}
	for _, k := range plain {
		c.v(k, RulePlaintextValue, SeverityError, "%s is stored in plaintext, not encrypted (typed into the file?): treat the value as leaked, then set a new one with sealenv set %s %s", k, c.env.Bundle, k)
	}
}

// requiredKeys reports the required keys the bundle lacks.
func (c *envCheck) requiredKeys() {
	keys := map[string]bool{}
	for _, k := range c.info.Keys {
		keys[k] = true
	}
	for _, k := range c.p.RequiredKeys(c.env) {
		if !keys[k] {
			c.v(k, RuleRequiredMissing, SeverityError, "required key %s is missing: sealenv set %s %s", k, c.env.Bundle, k)
		}
	}
}

// eachKey checks every key of the bundle: declared, set in the past, its
// grace period, its age ([KeyRule.Due]).
func (c *envCheck) eachKey() {
	p, env, now := c.p, c.env, c.opts.Now
	declares := p.DeclaresKeys(env)
	for _, k := range c.info.Keys {
		m := c.meta[k]
		if declares && !p.Declared(env, k) && !(m.GraceOf != "" && p.Declared(env, m.GraceOf)) {
			c.v(k, RuleUnknownKey, SeverityError, "%s is not declared in %s (keys:, required: or a service)", k, FileName)
		}
		if SetInFuture(m.Set, now) {
			c.v(k, RuleSetInFuture, SeverityError, "%s was set %s in the future (%s): a wrong clock or an edited metadata line; its age cannot be checked, give it a new value: %s", k, days(m.Set.Sub(now)), m.Set.UTC().Format(time.RFC3339), renewHint(p.Rule(k), env.Bundle, k))
		}
		if m.GraceOf != "" {
			if c.meta.Expired(k, now) {
				c.v(k, RuleGraceExpired, SeverityError, "grace value %s expired %s ago: any write drops it (sealenv unset %s %s)", k, days(now.Sub(*m.Expires)), env.Bundle, k)
			}
			continue
		}
		c.age(k, m.Set)
	}
}

// age reports a value of k, set at set, that is due ([KeyRule.Due]); one
// set in the future is reported by eachKey whatever its rule.
func (c *envCheck) age(k string, set time.Time) {
	rule, bundle, now := c.p.Rule(k), c.env.Bundle, c.opts.Now
	old := now.Sub(set)
	switch rule.Due(set, now) {
	case DueUnknown:
		c.v(k, RuleAgeUnknown, SeverityWarning, "%s has no recorded set time (a SOPS file sealenv has not adopted?): sealenv adopt %s records the file's lastmodified, or give it a new value to start its clock: %s", k, bundle, renewHint(rule, bundle, k))
	case DueExpired:
		c.v(k, RuleMaxAge, SeverityError, "%s is %s old, older than max_age %s: %s", k, days(old), days(rule.MaxAge.D()), renewHint(rule, bundle, k))
	case DueSoon:
		c.v(k, RuleExpiring, SeverityWarning, "%s reaches max_age %s in %s: renew it soon: %s", k, days(rule.MaxAge.D()), days(rule.MaxAge.D()-old), renewHint(rule, bundle, k))
	}
}

// values checks each value against its key's rule, with an identity.
func (c *envCheck) values() {
	if c.opened == nil {
		return
	}
	for _, s := range c.opened.Secrets {
		if c.opened.Meta[s.Name].GraceOf != "" {
			continue
		}
		for _, prob := range c.p.CheckValue(s.Name, s.Value) {
			c.v(s.Name, prob.Rule, prob.Severity, "%s", prob.Message)
		}
	}
}
