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
// is written through. With a [Signing], every bundle written is signed, and
// its signature (BUNDLE.sig) is part of the same change.
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
	"github.com/sealenv/sealenv/seal/signature"
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
	err = fleetPolicy{p}.update(ids, now, allEnvs(p), sign, func(env *policies.Environment, b *author.Bundle) (bool, error) {
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

// update locks the bundles of envs, opens each, lets change edit it (false:
// leave it as it is) and writes the changed ones, and their signatures, as
// one journaled change. Any error leaves every bundle as it was.
func (p fleetPolicy) update(ids []age.Identity, now func() time.Time, envs []*policies.Environment, sign Signing, change func(*policies.Environment, *author.Bundle) (bool, error)) error {
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
	var changes []fsutil.Change
	var removed []string
	for i, env := range envs {
		b, err := loadFile(paths[i], ids, now)
		if err != nil {
			return fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
		changed, err := change(env, b)
		if err == nil && changed {
			var out []byte
			out, err = b.Marshal()
			changes = append(changes, fsutil.Change{Path: paths[i], Data: out})
			sigPath := signature.Path(paths[i])
			switch {
			case err != nil:
			case sign.Sign != nil:
				var sig []byte
				if sig, err = sign.Sign(out); err == nil {
					changes = append(changes, fsutil.Change{Path: sigPath, Data: sig})
				}
			default:
				if _, serr := os.Lstat(sigPath); serr == nil {
					changes = append(changes, fsutil.Change{Path: sigPath, Remove: true})
					removed = append(removed, env.Bundle)
				}
			}
		}
		b.Zero()
		if err != nil {
			return fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := fsutil.WriteChangesJournaled(filepath.Join(p.Root, JournalName), changes); err != nil {
		return err
	}
	if sign.Removed != nil {
		for _, b := range removed {
			sign.Removed(b)
		}
	}
	return nil
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
	// Signing signs the bundles written (see [Signing]).
	Signing Signing
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
	err := fleetPolicy{p}.update(ids, opts.Now, envs, opts.Signing, func(env *policies.Environment, b *author.Bundle) (bool, error) {
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
