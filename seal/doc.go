// Package seal reads sealed bundles: SOPS files (dotenv, YAML or JSON store)
// whose data key is wrapped to age recipients.
//
// This package is the slim, dependency-light reader that the injector links.
// It depends only on filippo.io/age, the standard library and gopkg.in/yaml.v3,
// never on github.com/getsops/sops/v3 (a test enforces this). Creating and
// editing bundles lives in [github.com/sealenv/sealenv/seal/author], which uses
// the sops/v3 library so that bundles stay byte-compatible with the sops CLI.
//
// # Reading a bundle
//
// [Open] unwraps the data key with the given identities, decrypts every value,
// and verifies the SOPS MAC before it returns anything. Any failure returns an
// error and no values: a wrong identity, a tampered value, a tampered MAC or a
// malformed file all fail closed. Errors name the bundle and the reason, never
// a value.
//
// [Inspect] reads key names, recipients and metadata without any identity; it
// cannot verify the MAC, so what it returns is unauthenticated.
//
// # Changes made outside sealenv
//
// The SOPS MAC covers values, not the names of empty or unencrypted values.
// sealenv's metadata records those names and a digest of every value (see
// [Record]); a reader compares the file with it and lists what changed since
// sealenv last wrote the bundle ([Change]), marking what the file itself
// proves. [Open] fails with an [*UnauthenticatedError] when something is not
// proved; [OpenForReview] returns the bundle for a person to review
// ([Bundle.Unauthenticated]).
//
// # Environment names
//
// Dotenv keys are used as they are. Nested YAML and JSON keys are flattened by joining
// the path with "_" (list items contribute their index), so
//
//	db:
//	  password: x
//	hosts: [a, b]
//
// yields DB-style names "db_password", "hosts_0" and "hosts_1". Every name must
// be a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*), names are
// unique, and the "sops_" prefix is reserved by the dotenv store.
//
// # Metadata
//
// Per-secret metadata (when each value was set or rotated, and when a grace
// value expires) and the [Record] of the file are stored under the top-level
// key [MetaKey] (or [MetaKeyFor] the file's unencrypted suffix), whose name
// ends in the file's unencrypted suffix: it stays readable, plain sops keeps
// it as it is, and the SOPS MAC covers it, so it cannot be changed without
// the data key. It is never returned as a secret.
package seal
