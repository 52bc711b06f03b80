// Package injecttest makes real sealed bundles for the injector's tests, with
// keys generated at test time. Only tests import it: it links the sops/v3
// authoring side, which the injector itself must never import.
package injecttest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// Key is a test identity.
type Key struct {
	Identity  *age.X25519Identity
	Recipient string
	Text      string // AGE-SECRET-KEY-1...
}

// NewKey generates a fresh X25519 identity.
func NewKey(t testing.TB) Key {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return Key{Identity: id, Recipient: id.Recipient().String(), Text: id.String()}
}

// Value returns a random value that looks like a credential, prefixed for
// readability of the test source, never of its output.
func Value(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// Entry is one key of a bundle.
type Entry struct {
	Name, Value string
	// Grace, with Age, stores the entry as a rotated value: Value becomes
	// the previous value of Name, kept for Grace, written Age ago.
	Grace, Age time.Duration
	Next       string // the new value after the rotation
}

// Write seals entries to the recipients of keys into dir/name (the store
// comes from the extension) and returns the path. The file holds ciphertext
// only.
func Write(t testing.TB, dir, name string, keys []Key, entries ...Entry) string {
	t.Helper()
	var recipients []string
	for _, k := range keys {
		recipients = append(recipients, k.Recipient)
	}
	format := seal.FormatForPath(name)
	if format == 0 {
		format = seal.FormatDotenv
	}
	b, err := author.New(format, recipients)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, e := range entries {
		if e.Grace > 0 {
			b.Now = func() time.Time { return now.Add(-e.Age) }
			if err := b.Set(e.Name, []byte(e.Value)); err != nil {
				t.Fatal(err)
			}
			if err := b.Rotate(e.Name, []byte(e.Next), e.Grace); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := b.Set(e.Name, []byte(e.Value)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteSops writes entries as a dotenv bundle the way the sops CLI does,
// with the sops/v3 library and no sealenv metadata: a SOPS file that sealenv
// did not write.
func WriteSops(t testing.TB, dir, name string, keys []Key, entries ...Entry) string {
	t.Helper()
	var group sops.KeyGroup
	for _, k := range keys {
		mk, err := sopsage.MasterKeyFromRecipient(k.Recipient)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, mk)
	}
	var br sops.TreeBranch
	for _, e := range entries {
		br = append(br, sops.TreeItem{Key: e.Name, Value: e.Value})
	}
	tree := sops.Tree{Branches: sops.TreeBranches{br}, Metadata: sops.Metadata{
		KeyGroups: []sops.KeyGroup{group}, UnencryptedSuffix: seal.DefaultUnencryptedSuffix, Version: "3.13.3"}}
	key, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	c := aes.NewCipher()
	mac, err := tree.Encrypt(key, c)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	if tree.Metadata.MessageAuthenticationCode, err = c.Encrypt(mac, key, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	out, err := dotenv.NewStore(&config.DotenvStoreConfig{}).EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
