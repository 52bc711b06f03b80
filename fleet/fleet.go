// Package fleet runs operations over every bundle of a policy: the rekey
// plan and [RekeyAll] (offboarding), [RotateDue] (values at or past their
// max_age) and [Generate] (a new value by a key's generator). It sits above
// [github.com/sealenv/sealenv/policies] and
// [github.com/sealenv/sealenv/seal/author]; neither imports it.
//
// # Writes
//
// Every write goes through [bundlefile.EditAll]: all-or-nothing across
// bundles, also under SIGKILL: the bundles are locked, decrypted and
// re-encrypted in memory, and written only when every one succeeded,
// through a journal next to the policy (see [bundlefile.Recover]). A
// bundle path whose real location (symlinks followed) is outside the
// policy's directory is refused; a symlinked bundle inside it is written
// through. With a [Signing], every bundle written is signed, and its
// signature (BUNDLE.sig) is part of the same change.
package fleet

import (
	"fmt"
	"os"
	"sort"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// KeyChange is a master key with its owner label from the policy.
type KeyChange = policies.KeyChange

// RekeyPlan says what [RekeyAll] does to one environment.
type RekeyPlan struct {
	Env    string
	Bundle string // path relative to the policy root
	Add    []KeyChange
	Remove []KeyChange
	// Groups is set when the key groups or the Shamir threshold change.
	Groups bool
	// Exposed lists the keys that removed keys could read: rotate them
	// next.
	Exposed []string
}

// PlanRekeyAll compares every environment's bundle with the policy: which
// keys of every type [RekeyAll] adds and removes. It needs no identity.
func PlanRekeyAll(p *policies.Policy) ([]RekeyPlan, error) {
	var plans []RekeyPlan
	for i := range p.Environments {
		env := &p.Environments[i]
		path, err := p.ResolveBundle(env)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env.Bundle, fsutil.Reason(err))
		}
		f, err := seal.DetectFormat(path, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env.Bundle, err)
		}
		info, err := seal.Inspect(f, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env.Bundle, err)
		}
		d := env.Drift(info)
		plan := RekeyPlan{Env: env.Name, Bundle: env.Bundle, Add: d.Add, Remove: d.Remove, Groups: d.Groups}
		if len(plan.Remove) > 0 {
			plan.Exposed = info.Keys
		}
		plans = append(plans, plan)
	}
	return plans, nil
}

// RekeyAll wraps every bundle to exactly its environment's keys (of every
// type, in their key groups) with a new data key. It writes nothing unless
// every bundle succeeded, and then all of them as one change.
//
// With a [Signing], each bundle written is signed in the same change.
func RekeyAll(p *policies.Policy, ids []age.Identity, now func() time.Time, signing ...Signing) ([]RekeyPlan, error) {
	plans, err := PlanRekeyAll(p)
	if err != nil {
		return nil, err
	}
	var sign Signing
	if len(signing) > 0 {
		sign = signing[0]
	}
	err = bundlefile.EditAll(p, allEnvs(p), sign.options(ids, now), func(d *bundlefile.Draft) (bool, error) {
		env, _, _ := d.Env()
		return true, d.SetMasterKeys(env.MasterKeyGroups(), env.Threshold())
	})
	if err != nil {
		return nil, err
	}
	return plans, nil
}

func allEnvs(p *policies.Policy) []*policies.Environment {
	var out []*policies.Environment
	for i := range p.Environments {
		out = append(out, &p.Environments[i])
	}
	return out
}

// Signing says whether fleet writes sign the bundles they write.
type Signing struct {
	// Sign signs a bundle's new bytes; its signature replaces the bundle's
	// signature file (BUNDLE.sig) in the same journaled change. nil writes
	// bundles unsigned: a signature file that would no longer match is
	// removed in the same change.
	Sign func(bundle []byte) ([]byte, error)
	// Removed, when set, is told the bundle (as the policy names it) of
	// each signature file an unsigned write removed.
	Removed func(bundle string)
}

// options are the write options of a fleet write with this signing.
func (s Signing) options(ids []age.Identity, now func() time.Time) bundlefile.Options {
	o := bundlefile.Options{
		Identities:    func() ([]age.Identity, error) { return ids, nil },
		Now:           now,
		SkipNameCheck: true,
		Tell: func(ev bundlefile.Event) {
			if u, ok := ev.(bundlefile.Unsigned); ok && s.Removed != nil {
				s.Removed(u.Bundle)
			}
		},
	}
	if s.Sign != nil {
		o.Key = func(string) (bundlefile.Signer, error) { return signFunc(s.Sign), nil }
	}
	return o
}

// signFunc is a [bundlefile.Signer] that is a function.
type signFunc func(bundle []byte) ([]byte, error)

func (f signFunc) Sign(bundle []byte) ([]byte, error) { return f(bundle) }

// Rotation is one value rotated, or due, by [RotateDue].
type Rotation struct {
	Env, Bundle, Key string
	Age              time.Duration
	Grace            time.Duration
	// Manual is set for a due key without a generator in the policy: a
	// database URL or a vendor-issued token cannot be replaced with random
	// bytes, so it is listed, not rotated.
	Manual bool
	// Command is the generator command that makes the new value ("" for
	// random bytes); Pin is nil when the policy pins it as it is, else the
	// *policies.PinError that refuses it.
	Command string
	Pin     error
}

// RotateOptions configure [RotateDue].
type RotateOptions struct {
	Env    string // only this environment; "" for all
	Now    func() time.Time
	DryRun bool // only report what is due
	// Confirm is asked before a generator command of the policy runs; nil
	// refuses to run any (see [Generate]).
	Confirm func(command string) error
	// Signing signs the bundles written (see [Signing]).
	Signing Signing
}

// RotateDue rotates every value that is due ([policies.KeyRule.Due]: at or
// past max_age minus warn_before, with no recorded set time, or set more
// than [policies.ClockSkew] in the future), with
// the key's generator and grace period from the policy. With DryRun it only
// reports. Writes are all-or-nothing across bundles: a generated value that
// the key's own rule refuses ([CheckNew]) leaves every bundle as it was.
func RotateDue(p *policies.Policy, ids []age.Identity, opts RotateOptions) ([]Rotation, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	envs := allEnvs(p)
	if opts.Env != "" {
		env, err := p.Env(opts.Env)
		if err != nil {
			return nil, err
		}
		envs = []*policies.Environment{env}
	}
	var done []Rotation
	err := bundlefile.EditAll(p, envs, opts.Signing.options(ids, opts.Now), func(d *bundlefile.Draft) (bool, error) {
		env, _, _ := d.Env()
		due := dueIn(p, env, d.Bundle, opts.Now())
		done = append(done, due...)
		if opts.DryRun {
			return false, nil
		}
		return rotate(p, d.Bundle, due, opts.Confirm)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].Env < done[j].Env })
	return done, nil
}

// dueIn lists the values of b, the bundle of env, that are due
// ([policies.KeyRule.Due]: the rule check reports by), grace values aside.
func dueIn(p *policies.Policy, env *policies.Environment, b *author.Bundle, now time.Time) []Rotation {
	var due []Rotation
	meta := b.Meta()
	for _, k := range b.Names() {
		m := meta[k]
		r := p.Rule(k)
		if m.GraceOf != "" || r.Due(m.Set, now) == policies.NotDue {
			continue
		}
		rot := Rotation{Env: env.Name, Bundle: env.Bundle, Key: k, Age: now.Sub(m.Set), Grace: r.Grace.D(), Manual: r.Generator == nil}
		if r.Generator != nil && r.Generator.Command != "" {
			rot.Command, rot.Pin = r.Generator.Command, r.Generator.Verify()
		}
		due = append(due, rot)
	}
	return due
}

// rotate gives each due value of b that has a generator a new one, which
// the key's own rule must accept, keeping the old one for the grace
// period; it reports whether it changed anything.
func rotate(p *policies.Policy, b *author.Bundle, due []Rotation, confirm func(string) error) (bool, error) {
	changed := false
	for _, d := range due {
		if d.Manual {
			continue
		}
		v, err := Generate(p.Rule(d.Key).Generator, confirm)
		if err == nil {
			if err = CheckNew(p, d.Key, v); err == nil {
				err = b.Rotate(d.Key, v, d.Grace)
			}
			clear(v)
		}
		if err != nil {
			return false, fmt.Errorf("rotating %s: %w", d.Key, err)
		}
		changed = true
	}
	return changed, nil
}
