package seal_test

import (
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"

	"github.com/sealenv/sealenv/internal/testutil/sopstest"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// foreignKeys are master keys of every type but age, as sops writes them.
func foreignKeys() ([]keys.MasterKey, []seal.MasterKey) {
	return []keys.MasterKey{
			sopstest.PGP("85d77543 b3d624b6 3cea9e6d bc17301b 491b3f21"),
			sopstest.KMS("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:iam::111122223333:role/sops", map[string]string{"app": "api", "env": "prod"}),
			sopstest.GCPKMS("projects/p/locations/global/keyRings/r/cryptoKeys/k"),
			sopstest.AzureKV("https://v.vault.azure.net/", "sops", "0123abcd"),
			sopstest.Vault("https://vault.example.com:8200", "transit", "sops"),
			sopstest.HCKMS("cn-north-4:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
		}, []seal.MasterKey{
			{Type: seal.KeyPGP, ID: "85D77543B3D624B63CEA9E6DBC17301B491B3F21"},
			{Type: seal.KeyKMS, ID: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Role: "arn:aws:iam::111122223333:role/sops", Context: map[string]string{"app": "api", "env": "prod"}},
			{Type: seal.KeyGCPKMS, ID: "projects/p/locations/global/keyRings/r/cryptoKeys/k"},
			{Type: seal.KeyAzureKV, ID: "https://v.vault.azure.net/keys/sops/0123abcd"},
			{Type: seal.KeyVault, ID: "https://vault.example.com:8200/v1/transit/keys/sops"},
			{Type: seal.KeyHCKMS, ID: "cn-north-4:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
		}
}

func sortByType(ks []seal.MasterKey) []seal.MasterKey {
	out := append([]seal.MasterKey{}, ks...)
	order := map[string]int{}
	for i, t := range seal.KeyTypes() {
		order[t] = i
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if order[out[j].Type] < order[out[i].Type] || out[j].Group < out[i].Group {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestInspectReadsEveryKeyType: who can unwrap the data key is read, for
// every key type sops writes, in both stores, in key groups too, without a
// key; and the author side (sops/v3) describes the same keys the same way.
func TestInspectReadsEveryKeyType(t *testing.T) {
	t.Parallel()
	id, _ := age.GenerateX25519Identity()
	foreign, want := foreignKeys()
	want = append([]seal.MasterKey{{Type: seal.KeyAge, ID: id.Recipient().String()}}, want...)
	for _, f := range []seal.Format{seal.FormatDotenv, seal.FormatYAML} {
		b, err := author.New(f, []string{id.Recipient().String()})
		if err != nil {
			t.Fatal(err)
		}
		b.Set("K", []byte("v"))
		data, _ := b.Marshal()
		data = sopstest.AddKeys(t, f, data, foreign...)
		info, err := seal.Inspect(f, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := sortByType(info.MasterKeys); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Inspect master keys\n got %+v\nwant %+v", f, got, want)
		}
		if info.KeyGroups != 0 {
			t.Errorf("%s: %d key groups", f, info.KeyGroups)
		}
		loaded, err := author.Load(f, data, []age.Identity{id})
		if err != nil {
			t.Fatalf("%s: the added keys broke the bundle: %v", f, err)
		}
		if got := sortByType(loaded.MasterKeys()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: author master keys\n got %+v\nwant %+v", f, got, want)
		}
		for _, k := range want {
			if !k.Matches(k) {
				t.Errorf("%s does not match itself", k)
			}
		}

		// Key groups (Shamir), and a key left at the top of such a file.
		ageKey, _ := sopsage.MasterKeyFromRecipient(id.Recipient().String())
		grouped := sopstest.Rewrite(t, f, data, func(md *sops.Metadata) {
			md.KeyGroups = []sops.KeyGroup{{ageKey, foreign[0]}, {foreign[1]}, {foreign[2]}}
			md.ShamirThreshold = 2
		})
		info, err = seal.Inspect(f, grouped)
		if err != nil {
			t.Fatalf("%s groups: %v", f, err)
		}
		var groups []int
		for _, k := range info.MasterKeys {
			groups = append(groups, k.Group)
		}
		if info.KeyGroups != 3 || info.ShamirThreshold != 2 || !reflect.DeepEqual(groups, []int{0, 0, 1, 2}) {
			t.Errorf("%s: groups %d threshold %d key groups %v", f, info.KeyGroups, info.ShamirThreshold, groups)
		}
	}
	// A top-level key beside key_groups unwraps the data key too.
	y := "K: v\nsops:\n    key_groups:\n        - age:\n            - recipient: " + id.Recipient().String() + "\n              enc: x\n        - pgp:\n            - fp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21\n              enc: x\n" +
		"    pgp:\n        - fp: 0000000000000000000000000000000000000000\n          enc: x\n    shamir_threshold: 2\n    lastmodified: \"2026-01-01T00:00:00Z\"\n    mac: x\n    version: 3.13.3\n"
	info, err := seal.Inspect(seal.FormatYAML, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	outside := 0
	for _, k := range info.MasterKeys {
		if k.Group == seal.OutsideGroups {
			outside++
		}
	}
	if outside != 1 || len(info.MasterKeys) != 3 {
		t.Fatalf("top-level key beside key groups: %+v", info.MasterKeys)
	}
}

func TestMasterKeyMatches(t *testing.T) {
	t.Parallel()
	azure := func(id string) seal.MasterKey { return seal.MasterKey{Type: seal.KeyAzureKV, ID: id} }
	if !azure("https://v.vault.azure.net/keys/sops/1").Matches(azure("https://v.vault.azure.net/keys/sops")) {
		t.Error("an Azure key without a version must match every version")
	}
	if azure("https://v.vault.azure.net/keys/sops/1").Matches(azure("https://v.vault.azure.net/keys/sops/2")) ||
		azure("https://v.vault.azure.net/keys/sopsx/1").Matches(azure("https://v.vault.azure.net/keys/sops")) {
		t.Error("other Azure keys matched")
	}
	kms := seal.MasterKey{Type: seal.KeyKMS, ID: "arn:aws:kms:eu-west-1:111122223333:key/k", Context: map[string]string{"a": "1"}}
	other := kms
	other.Context = map[string]string{"a": "2"}
	if kms.Matches(other) || kms.Matches(seal.MasterKey{Type: seal.KeyKMS, ID: kms.ID}) {
		t.Error("KMS keys with another encryption context matched")
	}
	if (seal.MasterKey{Type: "future_kms"}).Matches(seal.MasterKey{Type: "future_kms"}) {
		t.Error("a key of an unknown type matched")
	}
}

// TestUnsealedValues: a value typed into a sealed file by hand is found
// without a key; values sops leaves plain by the file's rules, or that
// sealenv records as plain, are not.
func TestUnsealedValues(t *testing.T) {
	t.Parallel()
	id, _ := age.GenerateX25519Identity()
	for _, f := range []seal.Format{seal.FormatDotenv, seal.FormatYAML} {
		b, _ := author.New(f, []string{id.Recipient().String()})
		b.Set("A", []byte("secret"))
		b.Set("EMPTY", nil)
		data, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := seal.UnsealedValues(f, data); err != nil || len(got) != 0 {
			t.Fatalf("%s: clean bundle: %v %v", f, got, err)
		}
		line := "API_TOKEN=ghp_typedbyhand\nNOTE_unencrypted=plain\n"
		if f == seal.FormatYAML {
			line = "API_TOKEN: ghp_typedbyhand\nNOTE_unencrypted: plain\nPORT: 8080\n"
		}
		got, err := seal.UnsealedValues(f, append([]byte(line), data...))
		want := []string{"API_TOKEN", "NOTE_unencrypted"}
		if f == seal.FormatYAML {
			want = append(want, "PORT")
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v %v, want %v", f, got, err, want)
		}
	}
	// A SOPS file sealenv did not write: plain by its rules is intended.
	plainSops := "NOTE_unencrypted=plain\nsops_age__list_0__map_recipient=" + id.Recipient().String() + "\nsops_age__list_0__map_enc=x\nsops_lastmodified=2026-01-01T00:00:00Z\nsops_mac=x\nsops_unencrypted_suffix=_unencrypted\nsops_version=3.13.3\n"
	if got, err := seal.UnsealedValues(seal.FormatDotenv, []byte(plainSops)); err != nil || len(got) != 0 {
		t.Errorf("plain sops file: %v %v", got, err)
	}
	if got, err := seal.UnsealedValues(seal.FormatDotenv, []byte("TOKEN=x\n"+plainSops)); err != nil || strings.Join(got, ",") != "TOKEN" {
		t.Errorf("plain sops file with a typed line: %v %v", got, err)
	}
}
