package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Envelope is a DSSE envelope (DSSE v1.0): a payload, its type, and
// signatures over its pre-authentication encoding ([PAE]).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"` // base64 (standard alphabet)
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an [Envelope]. KeyID is left empty, as
// cosign leaves it: a verifier that is given a key needs no hint, and
// cosign skips a signature whose key ID differs from the one it computes.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // base64 (standard alphabet)
}

// PAE is DSSE's pre-authentication encoding of a payload and its type:
// "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload, lengths in
// ASCII decimal. It is what is signed, never the JSON of the envelope.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, len("DSSEv1  ")+2*20+len(payloadType)+len(payload)+2)
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Sign signs payload as a DSSE envelope with an ECDSA P-256 key (SHA-256,
// ASN.1 signature) or an Ed25519 key (pure Ed25519 over the PAE): the
// forms `cosign verify-attestation --key` checks.
func Sign(signer crypto.Signer, payloadType string, payload []byte) (*Envelope, error) {
	if err := checkKey(signer.Public()); err != nil {
		return nil, err
	}
	pae := PAE(payloadType, payload)
	var sig []byte
	var err error
	switch signer.Public().(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(pae)
		sig, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
	case ed25519.PublicKey:
		sig, err = signer.Sign(rand.Reader, pae, crypto.Hash(0))
	}
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return &Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// Marshal encodes the envelope as JSON.
func (e *Envelope) Marshal() ([]byte, error) { return json.Marshal(e) }

// Errors of [Envelope.Verify].
var (
	// ErrNoSignature: the envelope carries no signature.
	ErrNoSignature = errors.New("the envelope has no signature")
	// ErrBadSignature: no signature of the envelope verifies with the key:
	// signed by another key, or changed after it was signed.
	ErrBadSignature = errors.New("no signature verifies with the key (signed by another key, or changed since)")
)

// ParseEnvelope reads a DSSE envelope.
func ParseEnvelope(b []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %v", err)
	}
	if e.PayloadType == "" || e.Payload == "" {
		return nil, errors.New("not a DSSE envelope: no payloadType or payload")
	}
	return &e, nil
}

// Verify checks that a signature of the envelope verifies with pub and
// returns the payload that was signed. A payload is decoded from the
// standard or the URL base64 alphabet, as DSSE allows; a signature by
// Ed25519 is accepted in its pure form and in the Ed25519ph form that
// `cosign attest` writes for Ed25519 keys.
func (e *Envelope) Verify(pub crypto.PublicKey) ([]byte, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	if len(e.Signatures) == 0 {
		return nil, ErrNoSignature
	}
	payload, err := decodeB64(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("the envelope's payload is not base64: %v", err)
	}
	pae := PAE(e.PayloadType, payload)
	for _, s := range e.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			continue
		}
		if verifySig(pub, pae, sig) {
			return payload, nil
		}
	}
	return nil, ErrBadSignature
}

func verifySig(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		if ed25519.Verify(k, msg, sig) {
			return true
		}
		d := sha512.Sum512(msg)
		return ed25519.VerifyWithOptions(k, d[:], sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	}
	return false
}

func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s)
}
