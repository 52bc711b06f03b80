package bundlefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/signature"
)

// writeSigned replaces the bundle at real (named path) with data, and its
// signature file with a signature by key. Signing comes first, so a key
// that fails to sign changes nothing. Without a key, a signature file that
// would no longer match is removed, and [Unsigned] told.
func writeSigned(o *Options, path, real string, data []byte, key Signer) error {
	sig, err := sign(path, data, key)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(real, data, 0o644); err != nil {
		return fmt.Errorf("%s: writing: %w", path, fsutil.Reason(err))
	}
	return writeSignature(o, path, real, sig, key)
}

// sign signs data with key (nil: no signature).
func sign(path string, data []byte, key Signer) ([]byte, error) {
	if key == nil {
		return nil, nil
	}
	sig, err := key.Sign(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was written", path, err)
	}
	return sig, nil
}

// writeSignature writes (or, with sig nil, removes) the signature file of
// the bundle at real (named path), and tells so.
func writeSignature(o *Options, path, real string, sig []byte, key Signer) error {
	sigPath := signature.Path(real)
	if sig == nil {
		err := os.Remove(sigPath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: the bundle changed, but its old signature could not be removed: %w", signature.Path(path), fsutil.Reason(err))
		}
		o.tell(Unsigned{Bundle: path})
		return nil
	}
	if err := fsutil.WriteFileAtomic(sigPath, sig, 0o644); err != nil {
		return &SignatureError{Bundle: path, Signature: signature.Path(path), Err: fsutil.Reason(err)}
	}
	o.tell(Signed{Bundle: path, Signer: key})
	return nil
}

// Create writes b as a new bundle at path: never over an existing file,
// unless o.Replace (then under the bundle's lock), and through a symlink,
// but never to a path that a symlink takes out of its repository. With
// o.MakeDirs, the missing directories of path are created (inside the
// repository only), and removed again if the bundle cannot be written.
//
// b is checked and marshalled as every write does ([Draft.Check]) before
// anything is touched.
func Create(path string, o Options, b *author.Bundle) (err error) {
	d := &Draft{Bundle: b, Path: path, real: path, o: &o}
	data, err := d.marshal()
	if err != nil {
		return err
	}
	if err := Recover(o, path); err != nil {
		return err
	}
	if o.MakeDirs {
		made, merr := fsutil.MkdirAllWithin(filepath.Dir(path), Root(path), 0o755)
		if merr != nil {
			return fmt.Errorf("%s: %w", path, merr)
		}
		defer func() {
			for i := len(made) - 1; i >= 0 && err != nil; i-- {
				os.Remove(made[i])
			}
		}()
	}
	return create(path, &o, data)
}

// create is [Create] from resolving the path on.
func create(path string, o *Options, data []byte) error {
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	key, closeKey, err := o.key(real)
	if err != nil {
		return err
	}
	defer closeKey()
	if !o.Replace {
		sig, err := sign(path, data, key)
		if err != nil {
			return err
		}
		if err := fsutil.CreateExclusive(real, data, 0o644); err != nil {
			return fmt.Errorf("%s: %w", path, fsutil.Reason(err))
		}
		return writeSignature(o, path, real, sig, key)
	}
	if unlock, err := lock(path, real); err == nil {
		defer unlock()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return writeSigned(o, path, real, data, key)
}

// Sign signs the bundle at path as it is, under its lock, with the key
// o.Key finds ([ErrNoSigningKey] without one): for a bundle reviewed after
// a change that was not signed. Only a sealed bundle is signed. When the
// bundle is an environment's of a policy that names signers, a key they do
// not allow is refused.
func Sign(path string, o Options) error {
	if err := Recover(o, path); err != nil {
		return err
	}
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	key, closeKey, err := o.key(real)
	if err != nil {
		return err
	}
	if key == nil {
		return ErrNoSigningKey
	}
	defer closeKey()
	unlock, err := lock(path, real)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := os.ReadFile(real)
	if err != nil {
		return fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	f, err := o.format(real, data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	if _, err := seal.Inspect(f, data); err != nil {
		return fmt.Errorf("%s: %w; only a sealed bundle is signed", path, err)
	}
	if err := allowedSigner(&o, path, real, key); err != nil {
		return err
	}
	sig, err := key.Sign(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeSignature(&o, path, real, sig, key)
}

// allowedSigner refuses a key that the signers of the bundle's environment
// (real, named path) do not allow, when the policy names signers for it.
func allowedSigner(o *Options, path, real string, key Signer) error {
	env, p, err := EnvOf(o.Policy, real)
	if err != nil || env == nil || !env.Signed() {
		return err
	}
	pub := publicKeyOf(key)
	if pub == nil {
		return fmt.Errorf("%s: the signing key does not say its public key, which the signers of environment %q must allow", path, env.Name)
	}
	if _, err := env.AllowedSigners().Allow(pub, o.now()); err != nil {
		return fmt.Errorf("%s: %w; the signers of environment %q in %s do not allow this key", path, err, env.Name, p.Path)
	}
	return nil
}
