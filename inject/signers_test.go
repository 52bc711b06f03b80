package inject

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

// TestDefaultSigners: the default allowed signers file turns the check on
// when it exists, in any form (a directory there is an error, not a
// silent pass), and changes nothing when it does not.
func TestDefaultSigners(t *testing.T) {
	t.Parallel()
	key := injecttest.NewKey(t)
	dir := t.TempDir()
	bundle := injecttest.Write(t, dir, "b.env", []injecttest.Key{key}, injecttest.Entry{Name: "K", Value: injecttest.Value(t, "v-")})
	def := filepath.Join(dir, "allowed_signers")
	load := func() error {
		var stderr bytes.Buffer
		c := config(&stderr, seal.EnvAgeKey+"="+key.Text)
		c.Bundles, c.SignersDefault = []string{bundle}, def
		l, err := c.load()
		if l != nil {
			l.zero()
		}
		return err
	}
	if err := load(); err != nil {
		t.Fatalf("no default file: %v", err)
	}
	k := signtest.NewKey(t, t.TempDir(), "k", "ed25519")
	os.WriteFile(def, []byte(k.Line("ci@example.com", "")+"\n"), 0o644)
	if err := load(); ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "unsigned: no signature "+bundle+".sig, and the allowed signers file "+def+" requires one") {
		t.Fatalf("default file, unsigned bundle: %v", err)
	}
	data, _ := os.ReadFile(bundle)
	os.WriteFile(signature.Path(bundle), k.Sign(t, signature.Namespace, data), 0o644)
	if err := load(); err != nil {
		t.Fatalf("default file, signed bundle: %v", err)
	}
	os.Remove(def)
	os.Mkdir(def, 0o755)
	if err := load(); ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), def+": not a regular file") {
		t.Fatalf("a directory at the default path: %v", err)
	}
}
