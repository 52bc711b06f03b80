package bundlefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/signature"
)

// EditAll changes the bundles of the environments envs of policy p as one
// change, all or nothing, also under SIGKILL: it locks every bundle, opens
// each with the identities, lets change edit it (false: leave it as it
// is), and writes the changed ones, with their signatures, through a
// journal in the policy's directory ([JournalName], see [Recover]). A
// bundle whose real location is outside the policy's directory is refused;
// a symlinked bundle inside it is written through. Any error leaves every
// bundle as it was.
//
// The signing key is found once, for the policy file; [Unsigned] is told
// for each signature removed, once everything is written. The caller
// recovers an interrupted fleet write first ([Recover]), before it plans.
func EditAll(p *policies.Policy, envs []*policies.Environment, o Options, change func(*Draft) (bool, error)) error {
	var paths []string
	for _, env := range envs {
		path, err := p.ResolveBundle(env)
		if err != nil {
			return err
		}
		paths = append(paths, path)
	}
	key, closeKey, err := o.key(p.Path)
	if err != nil {
		return err
	}
	defer closeKey()
	unlock, err := fsutil.LockAll(paths, fsutil.LockWait())
	if err != nil {
		return err
	}
	defer unlock()
	ids, err := o.identities()
	if err != nil {
		return err
	}
	var changes []fsutil.Change
	var removed []string
	for i, env := range envs {
		more, rm, err := editOne(p, env, paths[i], ids, &o, key, change)
		var re *RecipientsError
		if errors.As(err, &re) {
			return fmt.Errorf("%w; no bundle was changed", err) // it names the bundle
		}
		if err != nil {
			return fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
		changes = append(changes, more...)
		if rm {
			removed = append(removed, env.Bundle)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := fsutil.WriteChangesJournaled(filepath.Join(p.Root, JournalName), changes); err != nil {
		return err
	}
	for _, b := range removed {
		o.tell(Unsigned{Bundle: b})
	}
	return nil
}

// editOne opens the bundle of env at path, lets change edit it, and
// returns what writing it changes: the bundle and its signature file, and
// whether that removes the signature.
func editOne(p *policies.Policy, env *policies.Environment, path string, ids []age.Identity, o *Options, key Signer, change func(*Draft) (bool, error)) ([]fsutil.Change, bool, error) {
	b, err := loadFile(path, ids, o)
	if err != nil {
		return nil, false, err
	}
	defer b.Zero()
	d := &Draft{Bundle: b, Path: env.Bundle, real: path, o: o, env: env, policy: p, looked: true}
	changed, err := change(d)
	if err != nil || !changed {
		return nil, false, err
	}
	if err := d.beforeMarshal(); err != nil {
		return nil, false, err
	}
	out, err := b.Marshal()
	if err != nil {
		return nil, false, err
	}
	if err := d.checkRecipients(out); err != nil {
		return nil, false, err
	}
	changes := []fsutil.Change{{Path: path, Data: out}}
	sigPath := signature.Path(path)
	if key != nil {
		sig, err := key.Sign(out)
		if err != nil {
			return nil, false, err
		}
		return append(changes, fsutil.Change{Path: sigPath, Data: sig}), false, nil
	}
	if _, err := os.Lstat(sigPath); err == nil {
		return append(changes, fsutil.Change{Path: sigPath, Remove: true}), true, nil
	}
	return changes, false, nil
}

// loadFile opens the bundle at path (its store detected) for a fleet write.
func loadFile(path string, ids []age.Identity, o *Options) (*author.Bundle, error) {
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
	if o.Now != nil {
		b.Now = o.Now
	}
	return b, nil
}
