package author

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/azkv"
	"github.com/getsops/sops/v3/gcpkms"
	"github.com/getsops/sops/v3/hckms"
	"github.com/getsops/sops/v3/hcvault"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/kms"
	"github.com/getsops/sops/v3/pgp"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
)

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
