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
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/azkv"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/gcpkms"
	"github.com/getsops/sops/v3/hckms"
	"github.com/getsops/sops/v3/hcvault"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/kms"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
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

// stableCipher encrypts the same value at the same path to the same
// ciphertext for as long as the data key stays. sops's cipher does that
// for the values it decrypted (its stash of IVs, so that an edit changes
// only the lines it changes); this extends it to values set since, so that
// every rendering of one bundle agrees (see [Bundle.Marshal]). An IV is
// reused only for the same value with the same additional data under the
// same key, which reveals nothing the identical ciphertext would not.
type stableCipher struct {
	aes.Cipher
	seen map[[32]byte]string
}

func newCipher() *stableCipher {
	return &stableCipher{Cipher: aes.NewCipher(), seen: map[[32]byte]string{}}
}

// Encrypt is aes.Cipher's, remembered.
func (c *stableCipher) Encrypt(v any, key []byte, ad string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%T\x00%d\x00%s\x00", v, len(ad), ad)
	switch v := v.(type) {
	case string:
		h.Write([]byte(v))
	case sops.Comment:
		h.Write([]byte(v.Value))
	default:
		fmt.Fprint(h, v)
	}
	var k [32]byte
	h.Sum(k[:0])
	if s, ok := c.seen[k]; ok {
		return s, nil
	}
	s, err := c.Cipher.Encrypt(v, key, ad)
	if err == nil {
		c.seen[k] = s
	}
	return s, err
}

// forget drops every remembered ciphertext (a new data key).
func (c *stableCipher) forget() { clear(c.seen) }

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

func ageMasterKeys(rs []string) ([]seal.MasterKey, error) {
	var out []seal.MasterKey
	for _, r := range rs {
		k, err := recipients.Age(r)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// sopsKey builds the sops master key of k. An Azure key without a version
// asks Azure for the current one, as the sops CLI does.
func sopsKey(k seal.MasterKey) (keys.MasterKey, error) {
	switch k.Type {
	case seal.KeyAge:
		if err := recipients.Check(k.ID); err != nil {
			return nil, err
		}
		mk, err := sopsage.MasterKeyFromRecipient(k.ID)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %v", recipients.Short(k.ID), err)
		}
		return mk, nil
	case seal.KeyPGP:
		return pgp.NewMasterKeyFromFingerprint(k.ID), nil
	case seal.KeyKMS:
		var ctx map[string]*string
		for n, v := range k.Context {
			if ctx == nil {
				ctx = map[string]*string{}
			}
			ctx[n] = &v
		}
		mk := kms.NewMasterKeyFromArn(k.ID, ctx, "")
		mk.Role = k.Role
		return mk, nil
	case seal.KeyGCPKMS:
		return gcpkms.NewMasterKeyFromResourceID(k.ID), nil
	case seal.KeyAzureKV:
		mk, err := azkv.NewMasterKeyFromURL(k.ID)
		if err != nil {
			return nil, fmt.Errorf("azure_kv key %s: %s", k.ID, firstLine(err))
		}
		return mk, nil
	case seal.KeyVault:
		mk, err := hcvault.NewMasterKeyFromURI(k.ID)
		if err != nil {
			return nil, fmt.Errorf("hc_vault key %s: %s", k.ID, firstLine(err))
		}
		return mk, nil
	case seal.KeyHCKMS:
		mk, err := hckms.NewMasterKey(k.ID)
		if err != nil {
			return nil, fmt.Errorf("hckms key %s: %s", k.ID, firstLine(err))
		}
		return mk, nil
	}
	return nil, fmt.Errorf("unknown master key type %q", k.Type)
}

// masterKeyOf describes a sops master key as [seal.Inspect] reads it from
// the file.
func masterKeyOf(k keys.MasterKey, group int) seal.MasterKey {
	var out seal.MasterKey
	switch k := k.(type) {
	case *sopsage.MasterKey:
		out = seal.MasterKey{Type: seal.KeyAge, ID: k.Recipient}
	case *pgp.MasterKey:
		out = seal.MasterKey{Type: seal.KeyPGP, ID: k.Fingerprint}
	case *kms.MasterKey:
		out = seal.MasterKey{Type: seal.KeyKMS, ID: k.Arn, Role: k.Role}
		for n, v := range k.EncryptionContext {
			if out.Context == nil {
				out.Context = map[string]string{}
			}
			if v != nil {
				out.Context[n] = *v
			}
		}
	case *gcpkms.MasterKey:
		out = seal.MasterKey{Type: seal.KeyGCPKMS, ID: k.ResourceID}
	case *azkv.MasterKey:
		out = seal.MasterKey{Type: seal.KeyAzureKV, ID: strings.TrimRight(k.VaultURL, "/") + "/keys/" + k.Name}
		if k.Version != "" {
			out.ID += "/" + k.Version
		}
	case *hcvault.MasterKey:
		out = seal.MasterKey{Type: seal.KeyVault, ID: strings.TrimRight(k.VaultAddress, "/") + "/v1/" + strings.Trim(k.EnginePath, "/") + "/keys/" + k.KeyName}
	case *hckms.MasterKey:
		out = seal.MasterKey{Type: seal.KeyHCKMS, ID: k.KeyID}
	default:
		out = seal.MasterKey{Type: k.TypeToIdentifier()}
	}
	out.Group = group
	return out.Canonical()
}

// LoadOption changes how [Load] treats a bundle.
type LoadOption func(*loadOptions)

type loadOptions struct{ adopt bool }

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
	if _, err := seal.Inspect(format, data); err != nil && !errors.Is(err, seal.ErrUnsupported) {
		// The slim parser gives precise, value-free reasons for malformed input.
		return nil, err
	}
	tree, err := st.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", seal.ErrMalformed, firstLine(err))
	}
	b := &Bundle{format: format, tree: tree, cipher: newCipher(), Now: time.Now}
	if err := b.unwrap(ids); err != nil {
		return nil, err
	}
	// The slim reader's checks apply to what we edit, too: the MAC, and the
	// names SOPS leaves unauthenticated. Without this, an injected "NAME="
	// line would be recorded, and so authenticated, by the next write.
	verified, err := seal.Verify(format, data, b.key)
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

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

func (b *Bundle) unwrap(ids []age.Identity) error {
	md := &b.tree.Metadata
	if len(md.KeyGroups) > 1 {
		// Shamir: let sops combine the parts (age keys get the identities).
		key, err := md.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ageKeyService{ids: ids})}, nil)
		if err != nil {
			return fmt.Errorf("%w: %s", seal.ErrIncorrectIdentity, firstLine(err))
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

func (b *Bundle) newDataKey() error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	b.tree.Metadata.DataKey = nil
	if errs := b.tree.Metadata.UpdateMasterKeysWithKeyServices(key, []keyservice.KeyServiceClient{keyservice.NewLocalClient()}); len(errs) > 0 {
		return fmt.Errorf("wrapping the data key: %v", firstLine(errs[0]))
	}
	clear(b.key)
	b.key = key
	b.cipher.forget()
	return nil
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
		b.tree.Branches[0] = append(br[:i:i], br[i+1:]...)
		break
	}
	if b.meta == nil {
		b.meta = seal.Meta{}
	}
	return nil
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

// Recipients lists the age recipients the bundle is wrapped to.
func (b *Bundle) Recipients() []string {
	var out []string
	for _, k := range b.MasterKeys() {
		if k.Type == seal.KeyAge {
			out = append(out, k.ID)
		}
	}
	return out
}

// MasterKeys lists every key the data key is wrapped to, of every type,
// with its key group.
func (b *Bundle) MasterKeys() []seal.MasterKey {
	var out []seal.MasterKey
	for g, group := range b.tree.Metadata.KeyGroups {
		for _, k := range group {
			out = append(out, masterKeyOf(k, g))
		}
	}
	return out
}

// Names lists the top-level keys in order.
func (b *Bundle) Names() []string {
	var out []string
	for _, it := range b.tree.Branches[0] {
		if k, ok := it.Key.(string); ok {
			out = append(out, k)
		}
	}
	return out
}

// Get returns a value as text: name is a top-level key, a dotted path
// ("db.password") or the environment name of a nested value. A map or a
// list is not a value (false).
func (b *Bundle) Get(name string) (string, bool) {
	n, ok, err := b.find(name, false)
	if err != nil || !ok {
		return "", false
	}
	return scalar(n.get())
}

func valueText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case nil:
		return "", true
	case sops.TreeBranch, []any:
		return "", false
	default:
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
}

// CheckValue rejects values a bundle of this store cannot carry faithfully.
// The reason never includes the value.
func (b *Bundle) CheckValue(name string, value []byte) error {
	if err := seal.CheckName(name); err != nil {
		return err
	}
	if name == b.metaKey() {
		return fmt.Errorf("%w: key %q is reserved for sealenv metadata", seal.ErrInvalidName, name)
	}
	if b.stayPlain(name) {
		return fmt.Errorf("%w: %s would be stored unencrypted by this bundle's sops rules", seal.ErrInvalidName, name)
	}
	if !utf8.Valid(value) {
		return fmt.Errorf("value of %s is not valid UTF-8", name)
	}
	if strings.ContainsRune(string(value), 0) {
		return fmt.Errorf("value of %s contains a NUL byte, which no environment variable can hold", name)
	}
	if b.format == seal.FormatDotenv && strings.Contains(string(value), `\n`) {
		return fmt.Errorf(`value of %s contains a literal \n, which the dotenv store cannot represent; use a YAML bundle`, name)
	}
	return nil
}

// stayPlain reports whether the file's sops rules leave a top-level key
// unencrypted.
func (b *Bundle) stayPlain(name string) bool {
	md := b.tree.Metadata
	switch {
	case md.UnencryptedSuffix != "":
		return strings.HasSuffix(name, md.UnencryptedSuffix)
	case md.EncryptedSuffix != "":
		return !strings.HasSuffix(name, md.EncryptedSuffix)
	case md.UnencryptedRegex != "":
		ok, _ := regexp.MatchString(md.UnencryptedRegex, name)
		return ok
	case md.EncryptedRegex != "":
		ok, _ := regexp.MatchString(md.EncryptedRegex, name)
		return !ok
	}
	return false
}

// Set stores value under name (a top-level key, a dotted path such as
// "db.password", or the environment name of a nested value) and records
// the time in metadata; nested values share the metadata of their
// top-level key. Maps missing on a dotted path are made. It never replaces
// a map or a list: that is an error matching [ErrNotScalar] that names
// the values inside.
func (b *Bundle) Set(name string, value []byte) error {
	n, exists, err := b.find(name, true)
	if err != nil {
		return err
	}
	if exists {
		if _, ok := scalar(n.get()); !ok {
			return nestedError(n)
		}
	}
	if err := b.checkAt(n, value); err != nil {
		return err
	}
	n.set(string(value))
	b.meta[top(n.dotted)] = seal.KeyMeta{Set: b.Now()}
	return nil
}

// checkAt is CheckValue for the value at n, nested or not.
func (b *Bundle) checkAt(n node, value []byte) error {
	if len(n.path) == 1 && n.dotted == n.path[0] {
		return b.CheckValue(n.dotted, value)
	}
	env := envName(n.dotted)
	if err := seal.CheckName(env); err != nil {
		return err
	}
	if !b.encrypts(n.path) {
		return fmt.Errorf("%w: %s would be stored unencrypted by this bundle's sops rules", seal.ErrInvalidName, n.dotted)
	}
	return b.CheckValue(env, value)
}

func (b *Bundle) setRaw(name, value string) {
	br := b.tree.Branches[0]
	for i, it := range br {
		if it.Key == name {
			br[i].Value = value
			return
		}
	}
	b.tree.Branches[0] = append(br, sops.TreeItem{Key: name, Value: value})
}

// ErrNoKey is returned for a key that is not in the bundle.
var ErrNoKey = errors.New("no such key")

// Unset removes a key (a top-level key with everything inside it, a dotted
// path, or the environment name of a nested value); a top-level key loses
// its metadata.
func (b *Bundle) Unset(name string) error {
	n, ok, err := b.find(name, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoKey, name)
	}
	n.remove()
	if !strings.Contains(n.dotted, ".") {
		delete(b.meta, n.dotted)
	}
	return nil
}

// Rotate replaces the value of name with value. With grace > 0 the old value
// is kept as name+[seal.GraceSuffix] until now+grace.
//
// name is a top-level key, a dotted path or the environment name of a
// nested value; a nested value's grace value is the top-level key of its
// environment name plus the suffix (db_password_PREVIOUS), which is the
// name the program sees either way. A map or a list is never replaced
// ([ErrNotScalar]).
func (b *Bundle) Rotate(name string, value []byte, grace time.Duration) error {
	n, ok, err := b.find(name, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoKey, name)
	}
	old, isValue := scalar(n.get())
	if !isValue {
		return nestedError(n)
	}
	if grace < 0 {
		return errors.New("grace period is negative")
	}
	if err := b.checkAt(n, value); err != nil {
		return err
	}
	now := b.Now()
	env := envName(n.dotted)
	prev := env + seal.GraceSuffix
	if grace > 0 {
		if p, ok, _ := b.find(prev, false); ok {
			if _, isValue := scalar(p.get()); !isValue {
				return nestedError(p)
			}
		}
		if err := b.CheckValue(prev, []byte(old)); err != nil {
			return err
		}
		b.setRaw(prev, old)
		exp := now.Add(grace)
		b.meta[prev] = seal.KeyMeta{Set: now, GraceOf: env, Expires: &exp}
	}
	n.set(string(value))
	b.meta[top(n.dotted)] = seal.KeyMeta{Set: now}
	return nil
}

// SetMasterKeys wraps a new data key to exactly the given keys, of any type:
// one group, or several key groups (Shamir) of which threshold (0: all)
// must be opened. Every key not listed is removed, so that nobody else can
// read anything written from now on. KMS, PGP and Vault keys need access
// to them, as with sops.
func (b *Bundle) SetMasterKeys(groups [][]seal.MasterKey, threshold int) error {
	var kgs []sops.KeyGroup
	for _, g := range groups {
		var kg sops.KeyGroup
		seen := map[string]bool{}
		for _, k := range g {
			k = k.Canonical()
			if seen[k.String()] {
				continue
			}
			seen[k.String()] = true
			mk, err := sopsKey(k)
			if err != nil {
				return err
			}
			kg = append(kg, mk)
		}
		if len(kg) == 0 {
			return errors.New("no recipients")
		}
		kgs = append(kgs, kg)
	}
	if len(kgs) == 0 {
		return errors.New("no recipients")
	}
	if len(kgs) == 1 {
		threshold = 0
	} else if threshold == 0 {
		threshold = len(kgs)
	}
	if threshold < 0 || threshold > len(kgs) {
		return fmt.Errorf("shamir threshold %d is not between 1 and the %d key groups", threshold, len(kgs))
	}
	b.tree.Metadata.KeyGroups = kgs
	b.tree.Metadata.ShamirThreshold = threshold
	return b.newDataKey()
}

// Rekey generates a new data key for the current recipients.
func (b *Bundle) Rekey() error {
	return b.newDataKey()
}

// Marshal encrypts the bundle into SOPS file bytes.
func (b *Bundle) Marshal() ([]byte, error) {
	now := b.Now().UTC()
	b.dropExpired(now)
	tree := sops.Tree{Metadata: b.tree.Metadata, Branches: sops.TreeBranches{copyBranch(b.tree.Branches[0])}}
	for _, br := range b.tree.Branches[1:] {
		tree.Branches = append(tree.Branches, copyBranch(br))
	}
	// Every top-level key is recorded, so the reader can authenticate the
	// names of empty values (see seal.Open); a key added by plain sops gets
	// an unknown (zero) set time.
	for _, it := range tree.Branches[0] {
		if k, ok := it.Key.(string); ok {
			if _, known := b.meta[k]; !known {
				b.meta[k] = seal.KeyMeta{}
			}
		}
	}
	tree.Metadata.Version = version.Version
	// The metadata records the exact names of the values no ciphertext
	// will authenticate (empty, null, unencrypted by the rules), a digest
	// of every value's stored form and one of the wrapped data keys (see
	// seal.Record). The names are predicted from the tree, the digests
	// taken from a first rendering; the slim reader's view of the result is
	// the judge. Every rendering gives the same ciphertexts (stableCipher),
	// so the second one normally agrees.
	rec, err := b.predict(tree)
	if err != nil {
		return nil, err
	}
	for pass := 0; ; pass++ {
		out, err := b.emit(tree, now, rec)
		if err != nil {
			return nil, err
		}
		// Everything written must be readable by the slim reader: this
		// rejects invalid or duplicate environment names (also after YAML
		// flattening).
		info, err := seal.Inspect(b.format, out)
		if err != nil {
			return nil, err
		}
		got := info.Current
		if sameRecord(got, rec) {
			if len(info.Unauthenticated) > 0 || len(info.Changes) > 0 {
				return nil, fmt.Errorf("internal error: a fresh rendering differs from its own record (%s)", seal.DescribeChanges(info.Changes))
			}
			return out, nil
		}
		if pass > 1 {
			return nil, errors.New("internal error: the record of the values changed between renderings")
		}
		rec = got
	}
}

func sameRecord(a, b seal.Record) bool {
	if a.Wrapped != b.Wrapped || len(a.Sums) != len(b.Sums) || !slices.Equal(sorted(a.Weak), sorted(b.Weak)) {
		return false
	}
	for k, v := range a.Sums {
		if w, ok := b.Sums[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// predict encrypts a copy of tree (the stable cipher remembers every
// ciphertext, so the rendering that follows gives the same ones) and
// returns what the metadata must record of it: the flattened names of the
// values no ciphertext will authenticate (empty and null values, and
// values the file's rules leave unencrypted), a digest of every value's
// stored form, and one of the wrapped data keys.
func (b *Bundle) predict(tree sops.Tree) (seal.Record, error) {
	t := sops.Tree{Metadata: tree.Metadata, Branches: sops.TreeBranches{copyBranch(tree.Branches[0])}}
	if _, err := t.Encrypt(b.key, b.cipher); err != nil {
		return seal.Record{}, fmt.Errorf("encrypting: %s", firstLine(err))
	}
	rec := seal.Record{Sums: map[string]string{}}
	var walk func(v any, path []string, name string)
	walk = func(v any, path []string, name string) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, it := range v {
				if k, ok := it.Key.(string); ok {
					walk(it.Value, append(path[:len(path):len(path)], k), name+"_"+k)
				}
			}
		case []any:
			i := 0
			for _, item := range v {
				if _, ok := item.(sops.Comment); ok {
					continue
				}
				walk(item, path, name+"_"+strconv.Itoa(i))
				i++
			}
		case sops.Comment:
		default:
			if v == nil || v == "" || !b.encrypts(path) {
				rec.Weak = append(rec.Weak, name)
			}
			if sum := seal.SumOf(v); sum != "" {
				rec.Sums[name] = sum
			}
		}
	}
	mk := b.metaKey()
	for _, it := range t.Branches[0] {
		if k, ok := it.Key.(string); ok && k != mk {
			walk(it.Value, []string{k}, k)
		}
	}
	var encs []string
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			encs = append(encs, string(k.EncryptedDataKey()))
		}
	}
	rec.Wrapped = seal.WrappedSum(encs)
	return rec, nil
}

// encrypts reports whether the file's rules encrypt the value at path, as
// sops decides it.
func (b *Bundle) encrypts(path []string) bool {
	md := b.tree.Metadata
	for _, k := range path {
		switch {
		case md.UnencryptedSuffix != "" && strings.HasSuffix(k, md.UnencryptedSuffix):
			return false
		case md.EncryptedSuffix != "" && strings.HasSuffix(k, md.EncryptedSuffix):
			return true
		}
		if md.UnencryptedRegex != "" {
			if ok, _ := regexp.MatchString(md.UnencryptedRegex, k); ok {
				return false
			}
		}
		if md.EncryptedRegex != "" {
			if ok, _ := regexp.MatchString(md.EncryptedRegex, k); ok {
				return true
			}
		}
	}
	return md.EncryptedSuffix == "" && md.EncryptedRegex == ""
}

// emit encrypts a copy of tree with the metadata key (with rec) appended.
func (b *Bundle) emit(tree sops.Tree, now time.Time, rec seal.Record) ([]byte, error) {
	t := sops.Tree{Metadata: tree.Metadata}
	for _, br := range tree.Branches {
		t.Branches = append(t.Branches, copyBranch(br))
	}
	t.Branches[0] = append(t.Branches[0], sops.TreeItem{Key: b.metaKey(), Value: seal.EncodeMeta(b.meta, rec)})
	mac, err := t.Encrypt(b.key, b.cipher)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %s", firstLine(err))
	}
	t.Metadata.LastModified = now.Truncate(time.Second)
	t.Metadata.MessageAuthenticationCode, err = b.cipher.Encrypt(mac, b.key, t.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("encrypting the MAC: %s", firstLine(err))
	}
	st, _ := storeFor(b.format)
	out, err := st.EmitEncryptedFile(t)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %s", b.format, firstLine(err))
	}
	return out, nil
}

// dropExpired removes grace values whose grace period has ended.
func (b *Bundle) dropExpired(now time.Time) {
	for name := range b.meta {
		if b.meta.Expired(name, now) {
			_ = b.Unset(name) // may already be gone from the tree
			delete(b.meta, name)
		}
	}
}

func copyBranch(br sops.TreeBranch) sops.TreeBranch {
	out := make(sops.TreeBranch, len(br))
	for i, it := range br {
		out[i] = sops.TreeItem{Key: it.Key, Value: copyValue(it.Value)}
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case sops.TreeBranch:
		return copyBranch(v)
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = copyValue(v[i])
		}
		return out
	}
	return v
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
