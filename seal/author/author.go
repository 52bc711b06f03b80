// Package author creates and edits sealed bundles with the sops/v3 library,
// so that every bundle it writes is a SOPS file that the sops CLI reads and
// edits, and every SOPS file with age recipients is a bundle.
//
// This package links sops/v3 and with it every cloud KMS SDK; the injector
// must never import it. Reading at runtime is [github.com/sealenv/sealenv/seal].
//
// # Editing
//
// A [Bundle] holds the decrypted tree and the data key in memory. Values that
// an edit does not change keep their ciphertext byte for byte (the same IV is
// reused only for the same value at the same path under the same data key), so
// a review diff shows exactly which secrets changed. Every [Bundle.Marshal]
// drops grace values whose grace period has ended, updates the metadata key,
// re-computes the MAC and encrypts it with a new lastmodified time.
package author

import (
	"errors"
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"

	"github.com/sealenv/sealenv/seal"
)

// Bundle is a decrypted bundle being edited.
type Bundle struct {
	format seal.Format
	tree   sops.Tree // decrypted values
	key    []byte    // data key
	cipher *stableCipher
	meta   seal.Meta
	// changes are what another tool changed since sealenv last wrote the
	// bundle, as [Load] found them; unauth the names nothing authenticates;
	// recorded whether the file had sealenv metadata.
	changes  []seal.Change
	unauth   []string
	recorded bool
	// anyNames: loaded with [AnyNames], names that are not environment
	// variable names (which sops edit can add) may stay in what is written.
	anyNames bool
	// prints are the fingerprints the bundle had when loaded; printer
	// makes new ones at Marshal (see [Bundle.Fingerprint]), made caches
	// them across renderings.
	prints  seal.Prints
	printer *Fingerprinter
	made    map[string]seal.Print
	// Now is the clock; tests replace it.
	Now func() time.Time
}

type store interface {
	sops.Store
}

func storeFor(f seal.Format) (store, error) {
	switch f {
	case seal.FormatDotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{}), nil
	case seal.FormatYAML:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{}), nil
	case seal.FormatJSON:
		// The sops CLI's default (config.NewStoresConfig): tabs.
		return sopsjson.NewStore(&config.JSONStoreConfig{Indent: -1}), nil
	}
	return nil, errors.New("unknown store")
}

// New returns an empty bundle wrapped to recipients (age, ssh-ed25519,
// ssh-rsa or plugin recipients), with a fresh data key.
func New(format seal.Format, recipients []string) (*Bundle, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no recipients")
	}
	keys, err := ageMasterKeys(recipients)
	if err != nil {
		return nil, err
	}
	return NewWithKeys(format, [][]seal.MasterKey{keys}, 0)
}

// NewWithKeys is [New] with master keys of any type (see
// [Bundle.SetMasterKeys]).
func NewWithKeys(format seal.Format, groups [][]seal.MasterKey, threshold int) (*Bundle, error) {
	if _, err := storeFor(format); err != nil {
		return nil, err
	}
	b := &Bundle{
		format: format,
		tree: sops.Tree{
			Branches: sops.TreeBranches{sops.TreeBranch{}},
			Metadata: sops.Metadata{
				UnencryptedSuffix: seal.DefaultUnencryptedSuffix,
				Version:           version.Version,
			},
		},
		cipher: newCipher(),
		meta:   seal.Meta{},
		Now:    time.Now,
	}
	if err := b.SetMasterKeys(groups, threshold); err != nil {
		return nil, err
	}
	return b, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// Format is the store of the bundle.
func (b *Bundle) Format() seal.Format { return b.format }

// Meta returns the metadata (a copy).
func (b *Bundle) Meta() seal.Meta {
	out := make(seal.Meta, len(b.meta))
	for k, v := range b.meta {
		out[k] = v
	}
	return out
}

// Zero drops the data key and the decrypted values from memory, as far as Go
// allows (strings cannot be overwritten).
func (b *Bundle) Zero() {
	clear(b.key)
	b.key = nil
	b.cipher.forget()
	b.tree.Branches = sops.TreeBranches{sops.TreeBranch{}}
}

var _ keys.MasterKey = (*sopsage.MasterKey)(nil)
