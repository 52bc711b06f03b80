package recipients_test

import (
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
)

func TestParse(t *testing.T) {
	t.Parallel()
	id, _ := age.GenerateX25519Identity()
	for in, want := range map[string]seal.MasterKey{
		id.Recipient().String():                                                            {Type: seal.KeyAge, ID: id.Recipient().String()},
		"pgp:85d7 7543 b3d6 24b6 3cea 9e6d bc17 301b 491b 3f21":                            {Type: seal.KeyPGP, ID: "85D77543B3D624B63CEA9E6DBC17301B491B3F21"},
		"kms:arn:aws:kms:eu-west-1:111122223333:key/k+arn:aws:iam::111122223333:role/sops": {Type: seal.KeyKMS, ID: "arn:aws:kms:eu-west-1:111122223333:key/k", Role: "arn:aws:iam::111122223333:role/sops"},
		"gcp_kms:projects/p/locations/l/keyRings/r/cryptoKeys/k":                           {Type: seal.KeyGCPKMS, ID: "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
		"azure_kv:https://v.vault.azure.net/keys/sops/":                                    {Type: seal.KeyAzureKV, ID: "https://v.vault.azure.net/keys/sops"},
		"hc_vault:https://vault:8200/v1/transit/keys/sops":                                 {Type: seal.KeyVault, ID: "https://vault:8200/v1/transit/keys/sops"},
		"hckms:cn-north-4:0f1e2d3c-4b5a":                                                   {Type: seal.KeyHCKMS, ID: "cn-north-4:0f1e2d3c-4b5a"},
	} {
		got, err := recipients.Parse(in)
		if err != nil || got.String() != want.String() {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"pgp:bob@example.com", "kms:arn:aws:s3:::bucket", "age1x", "", "hc_vault:vault/transit"} {
		if _, err := recipients.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	_, err := recipients.Parse(strings.ToLower(id.String()))
	if err == nil || strings.Contains(err.Error(), id.String()[20:40]) || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a private key: %v", err)
	}
}
