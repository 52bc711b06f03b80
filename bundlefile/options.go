package bundlefile

import (
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/signature"
)

// Options configure a write. Every field may be left zero.
type Options struct {
	// Policy is the policy file a person named; "" finds sealenv.yaml from
	// the bundle's directory (and, to recover a journal, from the working
	// directory).
	Policy string
	// Store is the bundle's store as a person named it (dotenv, yaml or
	// json); "" detects it from the file's name or content.
	Store string
	// Identities returns the identities that open the bundle. It is called
	// once the bundle has been read, so that a file that cannot be read is
	// reported before an identity that cannot be found.
	Identities func() ([]age.Identity, error)
	// Adopt records, with the write, the changes that nothing authenticates
	// (see [author.AdoptUnauthenticated]); without it they stop the write
	// with an error matching [seal.ErrUnauthenticated].
	Adopt bool
	// Key finds the signing key for the bundle at path (its real location:
	// its git configuration is the one of its repository), or for a fleet
	// write the policy file. It is called before anything changes. A nil
	// Signer writes unsigned: a signature that would no longer match is
	// removed. A Signer that has a Close method is closed after the write.
	Key func(path string) (Signer, error)
	// SkipNameCheck leaves out the check of names the injector refuses
	// ([CheckNames]): for a write that removes names (the way out of a
	// refusal) or changes only who may decrypt, and for fleet writes.
	SkipNameCheck bool
	// AnyNames opens a bundle that holds names that are not environment
	// variable names (added with sops edit): for unset and set --rename,
	// the way out of that state.
	AnyNames bool
	// Replace lets [Create] replace an existing file; MakeDirs lets it
	// create the missing directories of the path, inside the repository
	// only.
	Replace, MakeDirs bool
	// Now is the clock of the bundle's metadata (default: time.Now).
	Now func() time.Time
	// Loaded is told of every bundle opened for a write, before the change
	// (the CLI keeps its names, and no error of the command shows a value).
	Loaded func(*author.Bundle)
	// Tell is told what a person should hear beside the result: see
	// [Event]. nil drops it.
	Tell func(Event)
}

// Signer signs a bundle's bytes (an SSH signature, BUNDLE.sig);
// [*signing.Key] is one. [Sign] also needs its public key, through a
// PublicKey() *signature.PublicKey method.
type Signer interface {
	Sign(bundle []byte) ([]byte, error)
}

// publicKeyOf returns the public key of s, nil when it cannot say.
func publicKeyOf(s Signer) *signature.PublicKey {
	if k, ok := s.(interface{ PublicKey() *signature.PublicKey }); ok {
		return k.PublicKey()
	}
	return nil
}

func (o *Options) tell(ev Event) {
	if o.Tell != nil {
		o.Tell(ev)
	}
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// key finds the signing key for path, nil when none is configured, and the
// function that closes it.
func (o *Options) key(path string) (Signer, func(), error) {
	if o.Key == nil {
		return nil, func() {}, nil
	}
	s, err := o.Key(path)
	if err != nil || s == nil {
		return nil, func() {}, err
	}
	if c, ok := s.(interface{ Close() error }); ok {
		return s, func() { c.Close() }, nil
	}
	return s, func() {}, nil
}

// format decides the store of the bundle named path.
func (o *Options) format(path string, data []byte) (seal.Format, error) {
	if o.Store != "" {
		f, err := seal.ParseFormat(o.Store)
		if err != nil {
			return 0, &SettingError{Setting: "store", Err: err}
		}
		return f, nil
	}
	f, err := seal.DetectFormat(path, data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func (o *Options) identities() ([]age.Identity, error) {
	if o.Identities == nil {
		return nil, nil
	}
	return o.Identities()
}

// An Event is something a person should hear about a write, told to
// [Options.Tell]: [Recovered], [Signed] or [Unsigned].
type Event interface{ event() }

// Recovered: an interrupted fleet write was finished (every bundle had
// been written) or rolled back (every bundle is as it was before it).
type Recovered struct {
	Journal  string
	Finished bool
}

// Signed: the bundle was written with a signature by Signer.
type Signed struct {
	Bundle string // as the caller named it
	Signer Signer
}

// Unsigned: the bundle changed and its signature, which no longer
// matched, was removed.
type Unsigned struct {
	Bundle string // as the caller named it
}

func (Recovered) event() {}
func (Signed) event()    {}
func (Unsigned) event()  {}
