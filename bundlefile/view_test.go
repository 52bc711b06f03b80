package bundlefile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealenv/sealenv/seal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (review the diff)")

// golden compares got with testdata/name, or with -update writes it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bundlefile -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./bundlefile -update rewrites it; review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// Placeholder public keys and fingerprints: views hold no value, and the
// golden files hold nothing generated.
const (
	alice = "age1alice000000000000000000000000000000000000000000000000000000"
	bob   = "age1bob00000000000000000000000000000000000000000000000000000000"
	fp    = "SHA256:placeholder0000000000000000000000000000000"
)

var (
	now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	lm  = now.Add(-3 * 24 * time.Hour)
)

func at(d time.Duration) time.Time { return now.Add(d) }

func ptr[T any](v T) *T { return &v }

// views are one of each state a view shows.
func views() map[string]*View {
	day := 24 * time.Hour
	return map[string]*View{
		// sealenv wrote it: set times, an empty and a plaintext value,
		// grace values (one expired), a set time in the future.
		"recorded": {Bundle: "secrets/prod.env", Store: seal.FormatDotenv, Now: now,
			Signature: &Signature{File: "secrets/prod.env.sig", Status: "none"},
			Info: &seal.Info{
				Keys:       []string{"API_TOKEN", "API_TOKEN_PREVIOUS", "OLD_PREVIOUS", "EMPTY", "PLAIN", "AHEAD", "FRESH"},
				Paths:      []string{"API_TOKEN", "API_TOKEN_PREVIOUS", "OLD_PREVIOUS", "EMPTY", "PLAIN", "AHEAD", "FRESH"},
				Encrypted:  []bool{true, true, true, false, false, true, true},
				Empty:      []bool{false, false, false, true, false, false, false},
				Recipients: []string{alice, bob},
				MasterKeys: []seal.MasterKey{{Type: seal.KeyAge, ID: alice}, {Type: seal.KeyAge, ID: bob}},
				Meta: seal.Meta{
					"API_TOKEN":          {Set: at(-10 * day)},
					"API_TOKEN_PREVIOUS": {Set: at(-40 * day), GraceOf: "API_TOKEN", Expires: ptr(at(2 * day))},
					"OLD_PREVIOUS":       {Set: at(-90 * day), GraceOf: "OLD", Expires: ptr(at(-5 * day))},
					"EMPTY":              {Set: at(-30 * time.Hour)},
					"PLAIN":              {Set: at(-400 * day)},
					"AHEAD":              {Set: at(3 * day)},
					"FRESH":              {},
				},
				Recorded: true, LastModified: lm,
			}},
		// Another tool changed it: authenticated and not, re-encrypted,
		// removed; signed by an allowed signer.
		"changed": {Bundle: "secrets/dev.yaml", Store: seal.FormatYAML, Now: now,
			Signature: &Signature{File: "secrets/dev.yaml.sig", Status: "good", Type: "ssh-ed25519", Key: fp, Principals: []string{"ci@example.com"}, Allowed: ptr(true), Env: "dev", Content: lm},
			Info: &seal.Info{
				Keys:       []string{"ADDED", "FLAG", "ROTATED", "KEPT"},
				Paths:      []string{"ADDED", "FLAG", "ROTATED", "KEPT"},
				Encrypted:  []bool{true, false, true, true},
				Empty:      []bool{false, true, false, false},
				Recipients: []string{alice},
				MasterKeys: []seal.MasterKey{{Type: seal.KeyAge, ID: alice}},
				Meta:       seal.Meta{"ROTATED": {Set: at(-20 * day)}, "KEPT": {Set: at(-1 * day)}, "GONE": {Set: at(-2 * day)}},
				Changes: []seal.Change{
					{Name: "ADDED", Kind: seal.ChangeAdded, Authenticated: true},
					{Name: "FLAG", Kind: seal.ChangeAdded, Empty: true},
					{Name: "ROTATED", Kind: seal.ChangeReencrypted, Authenticated: true},
					{Name: "GONE", Kind: seal.ChangeRemoved},
				},
				Recorded: true, LastModified: lm,
			}},
		// A SOPS file sealenv never wrote, with a name nothing
		// authenticates; a signature that does not verify.
		"not-adopted": {Bundle: "other.env", Store: seal.FormatDotenv, Now: now,
			Signature: &Signature{File: "other.env.sig", Status: "bad", Reason: "not a signature of these bytes"},
			Info: &seal.Info{
				Keys: []string{"A", "FLAG"}, Paths: []string{"A", "FLAG"}, Encrypted: []bool{true, false}, Empty: []bool{false, true},
				Recipients: []string{alice}, MasterKeys: []seal.MasterKey{{Type: seal.KeyAge, ID: alice}},
				Unauthenticated: []string{"FLAG"}, LastModified: lm,
			}},
		// Key groups, a key outside them, nested keys, metadata the
		// file's rules encrypt; a signer the policy does not allow.
		"groups": {Bundle: "secrets/prod.json", Store: seal.FormatJSON, Now: now,
			Signature: &Signature{File: "secrets/prod.json.sig", Status: "good", Type: "ssh-ed25519", Key: fp, Allowed: ptr(false), Env: "prod", Content: lm},
			Info: &seal.Info{
				Keys: []string{"db_password", "db_user"}, Paths: []string{"db.password", "db.user"}, Encrypted: []bool{true, true}, Empty: []bool{false, false},
				Recipients: []string{alice, bob},
				MasterKeys: []seal.MasterKey{
					{Type: seal.KeyAge, ID: alice, Group: 0},
					{Type: seal.KeyPGP, ID: "85D77543B3D624B63CEA9E6DBC17301B491B3F21", Group: 1},
					{Type: seal.KeyKMS, ID: "arn:aws:kms:eu-west-1:111122223333:key/placeholder", Role: "arn:aws:iam::111122223333:role/sops", Context: map[string]string{"app": "api"}, Group: 1},
					{Type: seal.KeyAge, ID: bob, Group: seal.OutsideGroups},
				},
				KeyGroups: 2, ShamirThreshold: 1, MetaEncrypted: true, Recorded: true, LastModified: lm,
			}},
	}
}

// TestViewGolden: sealenv show's text and JSON, one golden file each per
// state of a bundle.
func TestViewGolden(t *testing.T) {
	for name, v := range views() {
		var text, js bytes.Buffer
		if err := v.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := v.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		golden(t, "show/"+name+".txt", text.Bytes())
		golden(t, "show/"+name+".json", js.Bytes())
	}
}

// TestMetaForNestedKeys: a nested key has the metadata of its longest
// top-level prefix, whatever the map's order.
func TestMetaForNestedKeys(t *testing.T) {
	m := seal.Meta{"db": {Set: at(-1 * time.Hour)}, "db_replica": {Set: at(-2 * time.Hour)}}
	for name, want := range map[string]time.Time{"db_password": at(-1 * time.Hour), "db_replica_password": at(-2 * time.Hour), "db": at(-1 * time.Hour)} {
		for range 20 {
			if got, ok := metaFor(m, name); !ok || !got.Set.Equal(want) {
				t.Fatalf("metaFor(%s) = %v, %v", name, got.Set, ok)
			}
		}
	}
	if _, ok := metaFor(m, "dbx"); ok {
		t.Error("dbx has the metadata of db")
	}
}
