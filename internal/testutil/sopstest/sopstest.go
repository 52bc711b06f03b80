// Package sopstest changes the metadata of SOPS files in tests: it adds
// master keys of the types a test cannot reach (AWS, GCP and Azure KMS,
// Vault, Huawei Cloud) as sops itself writes them, with made-up wrapped
// data keys. The SOPS MAC does not cover the metadata, so the file still
// opens with its age identities. Only tests import it.
package sopstest

import (
	"testing"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/azkv"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/gcpkms"
	"github.com/getsops/sops/v3/hckms"
	"github.com/getsops/sops/v3/hcvault"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/kms"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"

	"github.com/sealenv/sealenv/seal"
)

func store(f seal.Format) sops.Store {
	if f == seal.FormatYAML {
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	}
	return dotenv.NewStore(&config.DotenvStoreConfig{})
}

// Rewrite loads a SOPS file with the sops/v3 store, lets change edit its
// metadata, and writes it again.
func Rewrite(t testing.TB, f seal.Format, data []byte, change func(*sops.Metadata)) []byte {
	t.Helper()
	tree, err := store(f).LoadEncryptedFile(data)
	if err != nil {
		t.Fatal(err)
	}
	change(&tree.Metadata)
	out, err := store(f).EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// AddKeys adds master keys to the first key group of a SOPS file.
func AddKeys(t testing.TB, f seal.Format, data []byte, ks ...keys.MasterKey) []byte {
	return Rewrite(t, f, data, func(md *sops.Metadata) {
		md.KeyGroups[0] = append(md.KeyGroups[0], ks...)
	})
}

var created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const madeUp = "bm90IGEgcmVhbCB3cmFwcGVkIGRhdGEga2V5"

// KMS is an AWS KMS key with a made-up wrapped data key.
func KMS(arn, role string, context map[string]string) keys.MasterKey {
	var ctx map[string]*string
	for n, v := range context {
		if ctx == nil {
			ctx = map[string]*string{}
		}
		ctx[n] = &v
	}
	k := kms.NewMasterKeyFromArn(arn, ctx, "")
	k.Role, k.EncryptedKey, k.CreationDate = role, madeUp, created
	return k
}

// PGP is a PGP key with a made-up wrapped data key.
func PGP(fp string) keys.MasterKey {
	k := pgp.NewMasterKeyFromFingerprint(fp)
	k.EncryptedKey, k.CreationDate = madeUp, created
	return k
}

// GCPKMS is a Google Cloud KMS key with a made-up wrapped data key.
func GCPKMS(id string) keys.MasterKey {
	k := gcpkms.NewMasterKeyFromResourceID(id)
	k.EncryptedKey, k.CreationDate = madeUp, created
	return k
}

// AzureKV is an Azure Key Vault key with a made-up wrapped data key.
func AzureKV(vaultURL, name, version string) keys.MasterKey {
	k := azkv.NewMasterKey(vaultURL, name, version)
	k.EncryptedKey, k.CreationDate = madeUp, created
	return k
}

// Vault is a HashiCorp Vault transit key with a made-up wrapped data key.
func Vault(address, engine, name string) keys.MasterKey {
	k := hcvault.NewMasterKey(address, engine, name)
	k.EncryptedKey, k.CreationDate = madeUp, created
	return k
}

// HCKMS is a Huawei Cloud KMS key with a made-up wrapped data key.
func HCKMS(id string) keys.MasterKey {
	k, err := hckms.NewMasterKey(id)
	if err != nil {
		panic(err)
	}
	k.EncryptedKey, k.CreationDate = madeUp, created
	return k
}
