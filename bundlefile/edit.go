package bundlefile

import (
	"errors"
	"fmt"
	"os"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal/author"
)

// A Draft is a bundle that a write is changing, with what the write knows
// about it. The change edits the embedded [author.Bundle].
type Draft struct {
	*author.Bundle
	// Path names the bundle as the caller did (a fleet write: as the
	// policy does).
	Path string

	real   string // the file, symlinks followed
	o      *Options
	env    *policies.Environment // found, or given by a fleet write
	policy *policies.Policy
	looked bool // env and policy are known
}

// Env returns the environment of the policy whose bundle this is, and the
// policy; nil when there is none (see [EnvOf]). The policy is read the
// first time it is asked for.
func (d *Draft) Env() (*policies.Environment, *policies.Policy, error) {
	if !d.looked {
		env, p, err := EnvOf(d.o.Policy, d.real)
		if err != nil {
			return nil, nil, err
		}
		d.env, d.policy, d.looked = env, p, true
	}
	return d.env, d.policy, nil
}

// beforeMarshal is what every write does to the changed bundle before it
// is marshalled, with the policy's environment at hand ([Draft.Env]): the
// checks and changes that no command may skip go here. Today: the names
// the injector would refuse ([CheckNames]), and the fingerprints of the
// values ([Draft.fingerprint]).
func (d *Draft) beforeMarshal() error {
	if err := d.fingerprint(); err != nil {
		return err
	}
	if d.o.SkipNameCheck {
		return nil
	}
	names := envNames(d.Bundle)
	if d.looked {
		return checkNamesIn(d.env, d.policy, d.Path, names)
	}
	return checkNames(d.o.Policy, d.Path, d.real, names)
}

// Check runs what the write will run on the bundle as it is now, before and
// including marshalling it: an error here is the error the write would
// return. A change that asks a person (sealenv edit) uses it to ask again
// rather than fail.
func (d *Draft) Check() error {
	if err := d.beforeMarshal(); err != nil {
		return err
	}
	out, err := d.Marshal()
	if err != nil {
		return err
	}
	return d.checkRecipients(out)
}

// marshal is the bundle's new bytes, after [Draft.beforeMarshal], wrapped to
// exactly the recipients of the bundle's environment in the policy (else a
// [*RecipientsError]).
func (d *Draft) marshal() ([]byte, error) {
	if err := d.beforeMarshal(); err != nil {
		return nil, err
	}
	out, err := d.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path, err)
	}
	// After marshal: the keys the bytes are wrapped to, as written.
	if err := d.checkRecipients(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Edit is the read-modify-write of one bundle, at path: it recovers an
// interrupted fleet write, resolves path (refusing a symlink out of its
// repository), finds the signing key, locks the bundle, loads it with the
// identities, lets change edit it and, when change says so, writes it
// (through a symlink) with its signature, holding the lock throughout.
func Edit(path string, o Options, change func(*Draft) (bool, error)) error {
	if err := Recover(o, path); err != nil {
		return err
	}
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	key, closeKey, err := o.key(real) // before anything changes: a key that cannot sign stops the write
	if err != nil {
		return err
	}
	defer closeKey()
	unlock, err := lock(path, real)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := load(path, real, &o)
	if err != nil {
		return err
	}
	defer d.Zero()
	save, err := change(d)
	if err != nil || !save {
		return err
	}
	out, err := d.marshal()
	if err != nil {
		return err
	}
	return writeSigned(&o, path, real, out, key)
}

// lock takes the write lock of the bundle real (named path), waiting up to
// SEALENV_LOCK_TIMEOUT for another writer to finish.
func lock(path, real string) (unlock func(), err error) {
	unlock, err = fsutil.Lock(real, fsutil.LockWait())
	switch {
	case errors.Is(err, fsutil.ErrLocked):
		return nil, fmt.Errorf("%s: %w; gave up after %s (set %s to wait longer)", path, fsutil.ErrLocked, fsutil.LockWait(), fsutil.EnvLockTimeout)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	return unlock, nil
}

// load opens the bundle at real (named path) for a write.
func load(path, real string, o *Options) (*Draft, error) {
	data, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	f, err := o.format(path, data)
	if err != nil {
		return nil, err
	}
	ids, err := o.identities()
	if err != nil {
		return nil, err
	}
	var opts []author.LoadOption
	if o.Adopt {
		opts = append(opts, author.AdoptUnauthenticated())
	}
	if o.AnyNames {
		opts = append(opts, author.AnyNames())
	}
	b, err := author.Load(f, data, ids, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if o.Now != nil {
		b.Now = o.Now
	}
	if o.Loaded != nil {
		o.Loaded(b)
	}
	return &Draft{Bundle: b, Path: path, real: real, o: o}, nil
}
