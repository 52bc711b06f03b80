package author

import (
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
)

// OpenForReview opens a bundle for reading. It uses the slim reader
// ([seal.OpenForReview]) when it can, and [Load] (through sops/v3) for what
// the slim reader does not support: a data key wrapped only to KMS, PGP or
// Vault keys, or Shamir key groups. Either way the MAC is verified before
// any value is returned; names that nothing authenticates are listed in
// the bundle's Unauthenticated for the caller to refuse (see [seal.Strict]).
func OpenForReview(format seal.Format, data []byte, ids ...age.Identity) (*seal.Bundle, error) {
	b, err := seal.OpenForReview(format, data, ids...)
	if !errors.Is(err, seal.ErrUnsupported) {
		return b, err
	}
	ab, err := Load(format, data, ids, AdoptUnauthenticated())
	if err != nil {
		return nil, err
	}
	defer ab.Zero()
	out := &seal.Bundle{Format: format, Meta: ab.Meta(), Recipients: ab.Recipients(), Matched: "sops key service",
		Recorded: ab.recorded, Changes: ab.Changes(), Unauthenticated: ab.unauth, LastModified: ab.tree.Metadata.LastModified}
	for _, name := range ab.Names() {
		v, ok := ab.Get(name)
		if !ok {
			out.Zero()
			return nil, fmt.Errorf("%w: key %s is nested; nested keys of a KMS- or PGP-wrapped bundle are not supported", seal.ErrUnsupported, name)
		}
		out.Secrets = append(out.Secrets, seal.Secret{Name: name, Value: []byte(v)})
	}
	return out, nil
}
