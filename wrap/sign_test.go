package wrap_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal/signature"
	"github.com/sealenv/sealenv/wrap"
)

// TestWrapSignedBundles: with an allowed signers file, the sealed layer
// holds each bundle's signature next to it and the file at
// /etc/sealenv/allowed_signers, and the entrypoint names it; a bundle the
// file does not allow is refused at wrap time; without it, a signature
// still travels with its bundle and the entrypoint is as before.
func TestWrapSignedBundles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	alice := signtest.NewKey(t, dir, "alice", "ed25519")
	mallory := signtest.NewKey(t, dir, "mallory", "ed25519")
	allowed := []byte(alice.Line("alice@example.com", `namespaces="`+signature.Namespace+`"`) + "\n")
	base := baseImage(t, runtime.GOARCH, []string{"/app"}, nil)
	b := bundle(t, "prod.env", "K")
	b.Sig = alice.Sign(t, signature.Namespace, b.Data)

	o := opts(b)
	o.Signers = allowed
	img, err := wrap.Image(base, o)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if got := strings.Join(cf.Config.Entrypoint, " "); got != wrap.InjectorPath+" --bundle /etc/sealenv/bundle.env --signers /etc/sealenv/allowed_signers -- /app" {
		t.Errorf("entrypoint %q", got)
	}
	if !strings.HasPrefix(cf.Config.Labels[wrap.LabelSigners], "sha256:") {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	layers, _ := img.Layers()
	files := layerFiles(t, layers[len(layers)-1])
	if f := files["etc/sealenv/bundle.env.sig"]; !bytes.Equal(f.data, b.Sig) || f.h == nil || f.h.Mode != 0o444 {
		t.Error("the signature is not next to the bundle")
	}
	if f := files["etc/sealenv/allowed_signers"]; !bytes.Equal(f.data, allowed) || f.h.Mode != 0o444 {
		t.Error("the allowed signers file is not in the layer")
	}
	// Re-wrapping without signers drops them (file, flag and label).
	plain, err := wrap.Image(img, opts(b))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ = plain.ConfigFile()
	if strings.Contains(strings.Join(cf.Config.Entrypoint, " "), "--signers") || cf.Config.Labels[wrap.LabelSigners] != "" {
		t.Errorf("re-wrap kept the signers: %q %v", cf.Config.Entrypoint, cf.Config.Labels)
	}
	layers, _ = plain.Layers()
	files = layerFiles(t, layers[len(layers)-1])
	if _, ok := files["etc/sealenv/allowed_signers"]; ok {
		t.Error("re-wrap kept the allowed signers file")
	}
	if _, ok := files["etc/sealenv/bundle.env.sig"]; !ok {
		t.Error("the signature did not travel with its bundle")
	}

	for name, tc := range map[string]struct {
		sig  []byte
		want error
		text string
	}{
		"unsigned":          {nil, signature.ErrUnsigned, "no signature prod.env.sig, and the image requires one"},
		"signed by mallory": {mallory.Sign(t, signature.Namespace, b.Data), signature.ErrNotAllowed, mallory.Fingerprint()},
		"another bundle's":  {alice.Sign(t, signature.Namespace, []byte("x")), signature.ErrBadSignature, "does not match the bundle"},
		"signed for git":    {alice.Sign(t, "git", b.Data), signature.ErrBadSignature, `namespace "git"`},
		"garbage":           {[]byte("not a signature"), signature.ErrBadSignature, "not an SSH signature"},
	} {
		bad := b
		bad.Sig = tc.sig
		o := opts(bad)
		o.Signers = allowed
		_, err := wrap.Image(base, o)
		if !errors.Is(err, wrap.ErrInvalidBundle) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v", name, err)
		}
	}
	o = opts(b)
	o.Signers = []byte("# nobody\n")
	if _, err := wrap.Image(base, o); err == nil || !strings.Contains(err.Error(), "lists no signer") {
		t.Errorf("empty signers: %v", err)
	}
}
