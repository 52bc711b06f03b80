package author

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"filippo.io/age"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"

	"github.com/sealenv/sealenv/seal"
)

// LoadOption changes how [Load] treats a bundle.
type LoadOption func(*loadOptions)

type loadOptions struct{ adopt, anyNames bool }

// AnyNames lets [Load] open a bundle that holds names that are not
// environment variable names (a key added with sops edit, such as
// "my-key"), for the write that renames or removes them.
func AnyNames() LoadOption { return func(o *loadOptions) { o.anyNames = true } }

// AdoptUnauthenticated lets [Load] accept changes that nothing
// authenticates (see seal.Bundle.Unauthenticated): empty or unencrypted
// values added, removed or renamed outside sealenv, or those of a SOPS file
// sealenv never wrote. The next write records the file as it is, so only a
// person who has reviewed the bundle should pass it.
func AdoptUnauthenticated() LoadOption { return func(o *loadOptions) { o.adopt = true } }

// ErrUnauthenticated is returned (as a [*seal.UnauthenticatedError]) by
// [Load] for a bundle with changes that nothing authenticates, unless
// [AdoptUnauthenticated] is given.
var ErrUnauthenticated = seal.ErrUnauthenticated

// Load decrypts a bundle with the sops/v3 library and verifies its MAC. Age
// identities are given to sops with ParsedIdentities.ApplyToMasterKey; other
// master keys (KMS, PGP, Vault) are tried through the sops local key service.
//
// What another tool changed since sealenv last wrote the bundle is
// [Bundle.Changes]; the next [Bundle.Marshal] records it, with the file's
// lastmodified time as the set time of every value it added or changed.
func Load(format seal.Format, data []byte, ids []age.Identity, opts ...LoadOption) (*Bundle, error) {
	var lo loadOptions
	for _, o := range opts {
		o(&lo)
	}
	st, err := storeFor(format)
	if err != nil {
		return nil, err
	}
	inspect, verify := seal.Inspect, seal.Verify
	if lo.anyNames {
		inspect, verify = seal.InspectAnyNames, seal.VerifyAnyNames
	}
	if _, err := inspect(format, data); err != nil && !errors.Is(err, seal.ErrUnsupported) {
		// The slim parser gives precise, value-free reasons for malformed input.
		return nil, err
	}
	tree, err := st.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", seal.ErrMalformed, firstLine(err))
	}
	b := &Bundle{format: format, tree: tree, cipher: newCipher(), Now: time.Now, anyNames: lo.anyNames}
	if err := b.unwrap(ids); err != nil {
		return nil, err
	}
	// The slim reader's checks apply to what we edit, too: the MAC, and the
	// names SOPS leaves unauthenticated. Without this, an injected "NAME="
	// line would be recorded, and so authenticated, by the next write.
	verified, err := verify(format, data, b.key)
	if err != nil {
		clear(b.key)
		return nil, err
	}
	b.changes, b.unauth, b.recorded = verified.Changes, verified.Unauthenticated, verified.Recorded
	lastModified := verified.LastModified
	if !lo.adopt {
		if err := seal.Strict(verified); err != nil {
			clear(b.key)
			return nil, err
		}
	}
	verified.Zero()
	mac, err := tree.Decrypt(b.key, b.cipher)
	if err != nil {
		clear(b.key)
		return nil, fmt.Errorf("%w: a value failed authentication", seal.ErrTampered)
	}
	stored, err := b.cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, b.key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != mac {
		clear(b.key)
		return nil, fmt.Errorf("%w: MAC mismatch", seal.ErrTampered)
	}
	if err := b.loadMeta(); err != nil {
		clear(b.key)
		return nil, err
	}
	b.takeChanges(lastModified)
	return b, nil
}

// takeChanges brings the metadata up to what the file holds: a value
// another tool added, changed or filled was set at the file's lastmodified
// time (sops keeps one time per file); a value that nothing records, in a
// SOPS file sealenv never wrote, likewise. A re-encrypted value keeps its
// time.
func (b *Bundle) takeChanges(lastModified time.Time) {
	names := b.Names()
	tops := make(map[string]bool, len(names))
	for _, n := range names {
		tops[n] = true
	}
	for _, c := range b.changes {
		switch c.Kind {
		case seal.ChangeAdded, seal.ChangeModified, seal.ChangeFilled, seal.ChangeEmptied:
			if top := topOf(tops, c.Name); top != "" {
				km := b.meta[top]
				km.Set = lastModified
				b.meta[top] = km
			}
		}
	}
	for _, n := range names {
		if km, ok := b.meta[n]; !ok || km.Set.IsZero() {
			km.Set = lastModified
			b.meta[n] = km
		}
	}
	for n := range b.meta {
		if !tops[n] {
			delete(b.meta, n)
		}
	}
}

// topOf returns the top-level key (of tops) a flattened name belongs to:
// the longest that is the name or its prefix before "_". A map lookup per
// "_", so that a bundle whose every value changed (a sops rotate) loads in
// linear time.
func topOf(tops map[string]bool, name string) string {
	if tops[name] {
		return name
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '_' && tops[name[:i]] {
			return name[:i]
		}
	}
	return ""
}

// Changes returns what another tool changed since sealenv last wrote the
// bundle, as [Load] found it (see [seal.Change]).
func (b *Bundle) Changes() []seal.Change { return slices.Clone(b.changes) }

// Recorded reports whether the file [Load] read had sealenv metadata.
func (b *Bundle) Recorded() bool { return b.recorded }

func (b *Bundle) unwrap(ids []age.Identity) error {
	md := &b.tree.Metadata
	if len(md.KeyGroups) > 1 {
		// Shamir: let sops combine the parts (age keys get the identities).
		key, err := md.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ageKeyService{ids: ids})}, nil)
		if err != nil {
			return shamirError(md, ids, err)
		}
		b.key = key
		return nil
	}
	var lastErr error
	for _, g := range md.KeyGroups {
		for _, k := range g {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok || len(ids) == 0 {
				continue
			}
			sopsage.ParsedIdentities(ids).ApplyToMasterKey(ak)
			key, err := ak.Decrypt()
			if err == nil && len(key) == 32 {
				b.key = key
				md.DataKey = key
				return nil
			}
			lastErr = err
		}
	}
	// Non-age keys (KMS, PGP, Vault) through the sops local key service.
	for _, g := range md.KeyGroups {
		for _, k := range g {
			if _, ok := k.(*sopsage.MasterKey); ok {
				continue
			}
			key, err := md.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ageKeyService{ids: ids})}, nil)
			if err == nil {
				b.key = key
				return nil
			}
			lastErr = err
			break
		}
	}
	if len(ids) == 0 {
		return seal.ErrIncorrectIdentity
	}
	_ = lastErr // age errors can be long and name local paths; the reason is the same
	n := md.MasterKeyCount()
	if n == 1 {
		return fmt.Errorf("%w (1 master key)", seal.ErrIncorrectIdentity)
	}
	return fmt.Errorf("%w (%d master keys)", seal.ErrIncorrectIdentity, n)
}

// ageKeyService is the sops local key service, except that age keys are
// opened with the given identities only, never with ones sops would look
// up in the environment.
type ageKeyService struct {
	keyservice.Server
	ids []age.Identity
}

func (s ageKeyService) Decrypt(ctx context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	k, ok := req.Key.KeyType.(*keyservice.Key_AgeKey)
	if !ok {
		return s.Server.Decrypt(ctx, req)
	}
	if len(s.ids) == 0 {
		return nil, seal.ErrIncorrectIdentity
	}
	mk := &sopsage.MasterKey{Recipient: k.AgeKey.Recipient, EncryptedKey: string(req.Ciphertext)}
	sopsage.ParsedIdentities(s.ids).ApplyToMasterKey(mk)
	key, err := mk.Decrypt()
	if err != nil {
		return nil, err
	}
	return &keyservice.DecryptResponse{Plaintext: key}, nil
}

// metaKey is the name of the metadata key under this bundle's rules
// (see [seal.MetaKeyFor]).
func (b *Bundle) metaKey() string { return seal.MetaKeyFor(b.tree.Metadata.UnencryptedSuffix) }

// loadMeta moves the metadata key out of the tree into b.meta.
func (b *Bundle) loadMeta() error {
	b.meta = seal.Meta{}
	br := b.tree.Branches[0]
	mk := b.metaKey()
	for i, it := range br {
		if it.Key != mk {
			continue
		}
		s, _ := it.Value.(string)
		m, err := seal.ParseMeta(s)
		if err != nil {
			return err
		}
		b.meta = m
		if b.prints, err = seal.ParsePrints(s); err != nil {
			return err
		}
		b.tree.Branches[0] = append(br[:i:i], br[i+1:]...)
		break
	}
	if b.meta == nil {
		b.meta = seal.Meta{}
	}
	return nil
}
