// Package attest turns an audit's verdict into a fact that travels with the
// image: a signed in-toto attestation that cosign, Kyverno and Sigstore's
// policy-controller verify, and that [Verify] checks.
//
// # Statement
//
// [NewStatement] writes an in-toto Statement v1 whose subject is the image's
// manifest or index digest (the digest a registry or an OCI layout knows it
// by) and whose predicate, of type [PredicateType], is the verdict
// ([Predicate]): complete or not, findings counted by severity, and the
// coverage. It never holds a value, a masked preview, a path or a key name.
//
// # Envelope and keys
//
// [Sign] wraps a statement in a DSSE envelope signed with an ECDSA P-256 key
// (SHA-256) or an Ed25519 key, over DSSE's pre-authentication encoding
// ([PAE]). [ParsePrivateKey] reads cosign's encrypted key
// (scrypt and NaCl secretbox around PKCS #8) and plain PKCS #8 or SEC 1
// keys; [ParsePublicKey] reads a PKIX public key such as cosign.pub. No
// sigstore library is involved: these formats are a few hundred lines, and
// the tests check them against the real cosign.
//
// # Attaching
//
// [Attach] puts an envelope beside the image: in a registry as an OCI 1.1
// referrer (subject: the image; artifact type [ArtifactType]) and as a layer
// of cosign's attestation image, tag sha256-HEX.att, which cosign reads; in
// an OCI layout or archive as a referrer manifest listed in index.json.
// [Publish] does the whole step for a report: statement, signature, file,
// attachment. A verdict that is not clean is published only when asked.
//
// # Verifying
//
// [Verify] finds the envelopes attached to an image (or takes given ones),
// keeps those signed with the key, of sealenv's predicate type and about the
// image's own digest, and lets the newest decide: complete, and no finding
// at or above a severity. Anything else is an error that says why.
package attest
