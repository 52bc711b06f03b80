// Package creds reads the files tools keep credentials in (.env files,
// registry logins, kubeconfigs, cloud and package-manager credentials,
// infrastructure state, .NET and Java settings, a git config...), told by
// their name or, where the name is free, by their first bytes, in UTF-8
// or UTF-16: [Check] says whether one holds a plaintext credential, naming
// the key, never the value. A file sealed with SOPS is not a finding; a
// plaintext line in a sealed bundle is.
//
// It also holds the audit's judgement of names and values outside files:
// whether a variable's name says it holds a secret ([IsSecretName]),
// whether a value is a placeholder ([IsPlaceholder]), whether a file's
// name says it holds nothing but secrets ([LooksLikeSecretsFile]).
//
// A new credential file is a reader here and a line of docs/audit.md.
package creds
