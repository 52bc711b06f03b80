// Package recipients parses the public keys a bundle's data key is wrapped
// to. It is a leaf: both the policy ([github.com/sealenv/sealenv/policies])
// and the writer ([github.com/sealenv/sealenv/seal/author]) use it, and it
// imports neither.
//
// Public keys are not secret, so errors quote them; anything that looks like
// a private key is refused without being echoed (see [LooksPrivate]).
package recipients

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"

	"github.com/sealenv/sealenv/seal"
)

// Check reports whether r is a public key a bundle can be wrapped to: age
// X25519 (age1...), post-quantum hybrid (age1pq1...), an age plugin
// recipient (age1name1...), ssh-ed25519 or ssh-rsa.
func Check(r string) error {
	if LooksPrivate(r) {
		return errors.New("a recipient looks like a private key (identity): use its public key (age1..., ssh-...), and treat the private key as leaked if it was committed or shared")
	}
	var err error
	switch {
	case r == "":
		return errors.New("empty recipient")
	case strings.HasPrefix(r, "age1pq1"):
		_, err = age.ParseHybridRecipient(r)
	case strings.HasPrefix(r, "age1") && strings.Count(r, "1") > 1 && !isX25519(r):
		// plugin recipient: checked by the plugin when it is used
	case strings.HasPrefix(r, "age1"):
		_, err = age.ParseX25519Recipient(r)
	case strings.HasPrefix(r, "ssh-ed25519 "), strings.HasPrefix(r, "ssh-rsa "):
		_, err = agessh.ParseRecipient(r)
	default:
		return fmt.Errorf("recipient %q is not an age1..., ssh-ed25519 or ssh-rsa public key", Short(r))
	}
	if err != nil {
		return fmt.Errorf("recipient %q is malformed", Short(r))
	}
	return nil
}

func isX25519(r string) bool {
	_, err := age.ParseX25519Recipient(r)
	return err == nil
}

// LooksPrivate reports whether s looks like private key material, which must
// never be echoed in an error.
func LooksPrivate(s string) bool {
	u := strings.ToUpper(s)
	return strings.Contains(u, "AGE-SECRET-KEY") || strings.Contains(u, "AGE-PLUGIN-") || strings.Contains(u, "PRIVATE KEY") || strings.Contains(s, "-----BEGIN")
}

// Short keeps a quoted public key readable in a one-line error.
func Short(s string) string {
	if len(s) > 80 {
		return s[:60] + "..." + s[len(s)-8:]
	}
	return s
}

// Age returns the master key of an age or SSH recipient (see [Check]).
func Age(r string) (seal.MasterKey, error) {
	r = strings.TrimSpace(r)
	if err := Check(r); err != nil {
		return seal.MasterKey{}, err
	}
	return seal.MasterKey{Type: seal.KeyAge, ID: r}, nil
}

var (
	hexRe   = regexp.MustCompile(`^[0-9A-F]+$`)
	kmsRe   = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_+=.@-]+$`)
	roleRe  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9/_+=,.@-]+$`)
	gcpRe   = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)
	azureRe = regexp.MustCompile(`^https://[^/]+/keys/[^/]+(/[^/]+)?$`)
	vaultRe = regexp.MustCompile(`^https?://[^/]+(/.*)?/v1/(.+)/keys/([^/]+)$`)
	hckmsRe = regexp.MustCompile(`^[a-z0-9-]+:[0-9a-fA-F-]{8,}$`)
)

// PGP returns the master key of a PGP key: its fingerprint (40 or 64
// hexadecimal digits) or long key ID (16), spaces and case ignored.
func PGP(fp string) (seal.MasterKey, error) {
	k := seal.MasterKey{Type: seal.KeyPGP, ID: fp}.Canonical()
	if n := len(k.ID); !hexRe.MatchString(k.ID) || n != 16 && n != 40 && n != 64 {
		return k, fmt.Errorf("pgp key %q is not a fingerprint (40 or 64 hexadecimal digits) or a long key ID (16)", Short(fp))
	}
	return k, nil
}

// KMS returns the master key of an AWS KMS key: a key or alias ARN, with
// an optional IAM role ARN (also accepted as "KEY_ARN+ROLE_ARN", the sops
// form) and an encryption context.
func KMS(arn, role string, context map[string]string) (seal.MasterKey, error) {
	arn = strings.Join(strings.Fields(arn), "")
	if i := strings.Index(arn, "+arn:"); i > 0 {
		if role != "" {
			return seal.MasterKey{}, fmt.Errorf("kms key %q names a role twice", Short(arn))
		}
		arn, role = arn[:i], arn[i+1:]
	}
	k := seal.MasterKey{Type: seal.KeyKMS, ID: arn, Role: role, Context: context}.Canonical()
	if !kmsRe.MatchString(k.ID) {
		return k, fmt.Errorf("kms key %q is not an AWS KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or alias/NAME)", Short(arn))
	}
	if k.Role != "" && !roleRe.MatchString(k.Role) {
		return k, fmt.Errorf("kms role %q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", Short(k.Role))
	}
	return k, nil
}

// GCPKMS returns the master key of a Google Cloud KMS key by its resource
// ID (projects/P/locations/L/keyRings/R/cryptoKeys/K).
func GCPKMS(id string) (seal.MasterKey, error) {
	k := seal.MasterKey{Type: seal.KeyGCPKMS, ID: id}.Canonical()
	if !gcpRe.MatchString(k.ID) {
		return k, fmt.Errorf("gcp_kms key %q is not a resource ID (projects/P/locations/L/keyRings/R/cryptoKeys/K)", Short(id))
	}
	return k, nil
}

// AzureKV returns the master key of an Azure Key Vault key by its URL
// (https://VAULT.vault.azure.net/keys/NAME[/VERSION]). Without a version
// it matches every version of the key.
func AzureKV(url string) (seal.MasterKey, error) {
	k := seal.MasterKey{Type: seal.KeyAzureKV, ID: url}.Canonical()
	if !azureRe.MatchString(k.ID) {
		return k, fmt.Errorf("azure_kv key %q is not a key URL (https://VAULT.vault.azure.net/keys/NAME[/VERSION])", Short(url))
	}
	return k, nil
}

// Vault returns the master key of a HashiCorp Vault transit key by its URL
// (https://ADDRESS/v1/ENGINE/keys/NAME), as sops takes it.
func Vault(url string) (seal.MasterKey, error) {
	k := seal.MasterKey{Type: seal.KeyVault, ID: url}.Canonical()
	if !vaultRe.MatchString(k.ID) {
		return k, fmt.Errorf("hc_vault key %q is not a transit key URL (https://ADDRESS/v1/ENGINE/keys/NAME)", Short(url))
	}
	return k, nil
}

// HCKMS returns the master key of a Huawei Cloud KMS key (REGION:KEY_ID).
func HCKMS(id string) (seal.MasterKey, error) {
	k := seal.MasterKey{Type: seal.KeyHCKMS, ID: id}.Canonical()
	if !hckmsRe.MatchString(k.ID) {
		return k, fmt.Errorf("hckms key %q is not REGION:KEY_ID", Short(id))
	}
	return k, nil
}

// Parse reads a key as a command line gives it: an age or SSH recipient as
// it is, any other type as TYPE:ID ("pgp:FINGERPRINT",
// "kms:ARN[+ROLE_ARN]", "gcp_kms:RESOURCE_ID", "azure_kv:URL",
// "hc_vault:URL", "hckms:REGION:KEY_ID").
func Parse(s string) (seal.MasterKey, error) {
	s = strings.TrimSpace(s)
	if LooksPrivate(s) {
		return seal.MasterKey{}, Check(s)
	}
	typ, id, ok := strings.Cut(s, ":")
	if ok {
		switch typ {
		case seal.KeyPGP:
			return PGP(id)
		case seal.KeyKMS:
			return KMS(id, "", nil)
		case seal.KeyGCPKMS:
			return GCPKMS(id)
		case seal.KeyAzureKV:
			return AzureKV(id)
		case seal.KeyVault:
			return Vault(id)
		case seal.KeyHCKMS:
			return HCKMS(id)
		}
	}
	return Age(s)
}
