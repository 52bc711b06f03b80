// Package signature checks who sealed a bundle: a detached SSH signature
// next to the bundle (the sshsig format that `ssh-keygen -Y sign` and git's
// SSH commit signing write), verified against an allowed signers file in the
// format that git and `ssh-keygen -Y verify` read.
//
// It is the verifying half only, and small enough for the slim injector: the
// standard library's ed25519, RSA, SHA-2 and base64, and no
// golang.org/x/crypto/ssh, which would add about 0.9 MiB to the injector
// (measured: 3.84 to 4.77 MB stripped, over its 4 MiB bar). Signing lives in
// [github.com/sealenv/sealenv/seal/signing], on the maintained
// github.com/hiddeco/sshsig library; tests prove that this package, that
// library and OpenSSH's ssh-keygen accept each other's signatures and
// refuse the same forgeries, as the slim bundle reader is proven against
// sops.
//
// # What is signed
//
// The exact bytes of the bundle file, in namespace [Namespace], hashed with
// SHA-512 (ssh-keygen's default). The signature is the file [Path] names,
// BUNDLE.sig, where `ssh-keygen -Y sign` also puts it, so OpenSSH checks it
// with
//
//	ssh-keygen -Y verify -f allowed_signers -I alice@example.com \
//	    -n bundle@sealenv.github.io -s secrets/prod.env.sig < secrets/prod.env
//
// # Key types
//
// ssh-ed25519; sk-ssh-ed25519@openssh.com (a FIDO security key), whose
// signature must carry the user-presence flag, as sshd requires by default;
// and ssh-rsa with rsa-sha2-256 or rsa-sha2-512 signatures (never SHA-1), of
// 2048 to 16384 bits. ECDSA keys (their verifier would cost the injector
// another 0.33 MiB), DSA keys and certificates are refused with a reason.
//
// # Allowed signers
//
// [ParseAllowedSigners] reads the ALLOWED SIGNERS format of ssh-keygen(1):
// one "principals [options] keytype base64 [comment]" line per key, with
// the options cert-authority, namespaces="...", valid-after="..." and
// valid-before="...". A line whose namespaces exclude [Namespace], or whose
// validity does not cover the time of the check, does not allow its key,
// as in OpenSSH. Any malformed line makes the whole file an error.
package signature
