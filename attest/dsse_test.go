package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/cosigntest"
)

// The example of the DSSE protocol's specification.
func TestPAE(t *testing.T) {
	got := PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if got := PAE("", nil); string(got) != "DSSEv1 0  0 " {
		t.Fatalf("PAE of empties = %q", got)
	}
}

// A signature is what cosign verify-attestation checks, computed here with
// the standard library alone: ECDSA over SHA-256 of the PAE (ASN.1),
// Ed25519 over the PAE itself.
func TestSignIsCosignsForm(t *testing.T) {
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	for _, s := range []crypto.Signer{cosigntest.ECDSA(t), cosigntest.Ed25519(t)} {
		env, err := Sign(s, PayloadType, payload)
		if err != nil {
			t.Fatal(err)
		}
		if env.PayloadType != PayloadType || env.Payload != base64.StdEncoding.EncodeToString(payload) || len(env.Signatures) != 1 || env.Signatures[0].KeyID != "" {
			t.Fatalf("envelope %+v", env)
		}
		sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
		if err != nil {
			t.Fatal(err)
		}
		pae := PAE(PayloadType, payload)
		switch k := s.Public().(type) {
		case *ecdsa.PublicKey:
			d := sha256.Sum256(pae)
			if !ecdsa.VerifyASN1(k, d[:], sig) {
				t.Error("the ECDSA signature is not ASN.1 over SHA-256(PAE)")
			}
		case ed25519.PublicKey:
			if !ed25519.Verify(k, pae, sig) {
				t.Error("the Ed25519 signature is not pure Ed25519 over the PAE")
			}
		}
		got, err := env.Verify(s.Public())
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("Verify = %q, %v", got, err)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := cosigntest.ECDSA(t)
	payload := []byte(`{"predicate":{"complete":true}}`)
	env, err := Sign(k, PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	tampered := *env
	tampered.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte("true"), []byte("fals"), 1))
	retyped := *env
	retyped.PayloadType = "text/plain"
	noSig := *env
	noSig.Signatures = nil
	for name, tc := range map[string]struct {
		env  *Envelope
		key  crypto.PublicKey
		want error
	}{
		"another key":          {env, cosigntest.ECDSA(t).Public(), ErrBadSignature},
		"another key type":     {env, cosigntest.Ed25519(t).Public(), ErrBadSignature},
		"payload changed":      {&tampered, k.Public(), ErrBadSignature},
		"payload type changed": {&retyped, k.Public(), ErrBadSignature},
		"no signature":         {&noSig, k.Public(), ErrNoSignature},
	} {
		if _, err := tc.env.Verify(tc.key); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// cosign attest signs with Ed25519ph for Ed25519 keys; such an envelope is
// accepted, and so is a payload in the URL alphabet, which DSSE allows.
func TestVerifyEd25519phAndURLAlphabet(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	payload := []byte("\xfb\xff statement")
	d := sha512.Sum512(PAE(PayloadType, payload))
	sig, err := k.Sign(rand.Reader, d[:], &ed25519.Options{Hash: crypto.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	env := &Envelope{PayloadType: PayloadType, Payload: base64.URLEncoding.EncodeToString(payload),
		Signatures: []Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
	got, err := env.Verify(k.Public())
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("Verify = %q, %v", got, err)
	}
}

func TestParseEnvelope(t *testing.T) {
	for _, bad := range []string{"", "{}", `{"payloadType":"x"}`, "[1]", `{"payload":"eA=="}`} {
		if _, err := ParseEnvelope([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	k := cosigntest.ECDSA(t)
	env, _ := Sign(k, PayloadType, []byte("{}"))
	b, _ := env.Marshal()
	back, err := ParseEnvelope(b)
	if err != nil || back.Payload != env.Payload || back.Signatures[0].Sig != env.Signatures[0].Sig {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}
