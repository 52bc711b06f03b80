// Package fleet runs operations over every bundle of a policy: the rekey
// plan and [RekeyAll] (offboarding), [RotateDue] (values at or past their
// max_age) and [Generate] (a new value by a key's generator). It sits above
// [github.com/sealenv/sealenv/policies] and
// [github.com/sealenv/sealenv/seal/author]; neither imports it.
//
// # Writes
//
// Every write is all-or-nothing across bundles, also under SIGKILL: the
// bundles are locked, decrypted and re-encrypted in memory, and written
// only when every one succeeded, through a journal next to the policy (see
// [Recover]). A bundle path whose real location (symlinks followed) is
// outside the policy's directory is refused; a symlinked bundle inside it
// is written through.
package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// JournalName is the journal of an interrupted fleet write, in the policy's
// directory. It exists only while a write runs or after one was killed.
const JournalName = ".sealenv-journal"

// Recover finishes or rolls back a fleet write under root (the policy's
// directory) that was interrupted, and says what it did ("" for nothing).
// Every command that writes bundles, and check, runs it first.
func Recover(root string) (string, error) {
	journal := filepath.Join(root, JournalName)
	what, err := fsutil.Recover(journal, fsutil.LockWait())
	if err != nil {
		return "", fmt.Errorf("recovering an interrupted fleet write: %w", err)
	}
	switch what {
	case fsutil.Finished:
		return "an interrupted rekey --all or rotate --due had written every bundle; finished it (" + journal + ")", nil
	case fsutil.RolledBack:
		return "an interrupted rekey --all or rotate --due was rolled back: every bundle is as it was before it (" + journal + ")", nil
	}
	return "", nil
}

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
func RekeyAll(p *policies.Policy, ids []age.Identity, now func() time.Time) ([]RekeyPlan, error) {
	plans, err := PlanRekeyAll(p)
	if err != nil {
		return nil, err
	}
	err = fleetPolicy{p}.update(ids, now, allEnvs(p), func(env *policies.Environment, b *author.Bundle) (bool, error) {
		var groups [][]seal.MasterKey
		for _, g := range env.MasterKeys() {
			var keys []seal.MasterKey
			for _, r := range g {
				keys = append(keys, r.MasterKey())
			}
			groups = append(groups, keys)
		}
		return true, b.SetMasterKeys(groups, env.Threshold())
	})
	if err != nil {
		return nil, err
	}
	return plans, nil
}

type fleetPolicy struct{ *policies.Policy }

func allEnvs(p *policies.Policy) []*policies.Environment {
	var out []*policies.Environment
	for i := range p.Environments {
		out = append(out, &p.Environments[i])
	}
	return out
}

// update locks the bundles of envs, opens each, lets change edit it (false:
// leave it as it is) and writes the changed ones as one journaled change.
// Any error leaves every bundle as it was.
func (p fleetPolicy) update(ids []age.Identity, now func() time.Time, envs []*policies.Environment, change func(*policies.Environment, *author.Bundle) (bool, error)) error {
	var paths []string
	for _, env := range envs {
		path, err := p.ResolveBundle(env)
		if err != nil {
			return err
		}
		paths = append(paths, path)
	}
	unlock, err := fsutil.LockAll(paths, fsutil.LockWait())
	if err != nil {
		return err
	}
	defer unlock()
	var write []string
	var outs [][]byte
	for i, env := range envs {
		b, err := loadFile(paths[i], ids, now)
		if err != nil {
			return fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
		changed, err := change(env, b)
		if err == nil && changed {
			var out []byte
			out, err = b.Marshal()
			write, outs = append(write, paths[i]), append(outs, out)
		}
		b.Zero()
		if err != nil {
			return fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
	}
	if len(write) == 0 {
		return nil
	}
	return fsutil.WriteFilesJournaled(filepath.Join(p.Root, JournalName), write, outs)
}

// Rotation is one value rotated, or due, by [RotateDue].
type Rotation struct {
	Env, Bundle, Key string
	Age              time.Duration
	Grace            time.Duration
	// Manual is set for a due key without a generator in the policy: a
	// database URL or a vendor-issued token cannot be replaced with random
	// bytes, so it is listed, not rotated.
	Manual bool
}

// RotateOptions configure [RotateDue].
type RotateOptions struct {
	Env    string // only this environment; "" for all
	Now    func() time.Time
	DryRun bool // only report what is due
	// Confirm is asked before a generator command of the policy runs; nil
	// refuses to run any (see [Generate]).
	Confirm func(command string) error
}

// RotateDue rotates every value at or past max_age minus warn_before, with
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
	err := fleetPolicy{p}.update(ids, opts.Now, envs, func(env *policies.Environment, b *author.Bundle) (bool, error) {
		var due []Rotation
		meta := b.Meta()
		for _, k := range b.Names() {
			m := meta[k]
			r := p.Rule(k)
			if m.GraceOf != "" || r.MaxAge == 0 {
				continue
			}
			old := opts.Now().Sub(m.Set)
			if m.Set.IsZero() || old >= r.MaxAge.D()-r.WarnBefore.D() || old < 0 {
				due = append(due, Rotation{Env: env.Name, Bundle: env.Bundle, Key: k, Age: old, Grace: r.Grace.D(), Manual: r.Generator == nil})
			}
		}
		done = append(done, due...)
		if opts.DryRun {
			return false, nil
		}
		changed := false
		for _, d := range due {
			if d.Manual {
				continue
			}
			v, err := Generate(p.Rule(d.Key).Generator, opts.Confirm)
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
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].Env < done[j].Env })
	return done, nil
}

func loadFile(path string, ids []age.Identity, now func() time.Time) (*author.Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fsutil.Reason(err)
	}
	f, err := seal.DetectFormat(path, data)
	if err != nil {
		return nil, err
	}
	b, err := author.Load(f, data, ids)
	if err != nil {
		return nil, err
	}
	b.Now = now
	return b, nil
}
