// Package inject is sealenv's runtime: it finds an age identity, opens sealed
// bundles in memory, builds the environment of a command and runs it. It is
// what the slim sealenv-inject entrypoint and the full CLI's sealenv inject
// run; both parse the same flags with [Config.ParseArgs] and print the same
// [Usage].
//
//	c := inject.Config{Args: []string{"/app/server"}, Bundles: []string{"/etc/sealenv/bundle.env"}}
//	code, err := inject.Run(c) // in exec mode, returns only on failure
//
// The package links age, the standard library, yaml.v3 and x/sys through the
// slim bundle reader in package seal, never sops/v3: the full CLI passes
// [Config.Open] and [Config.ParseIdentities] to read what only sops or SSH
// and plugin code can.
//
// # Modes
//
// By default [Run] replaces the process with the command (execve): the
// command keeps the PID, 1 in a container, and receives signals straight
// from the runtime. With [Config.Supervise] the injector stays as the parent,
// like tini: the command runs in its own process group, every signal but
// SIGCHLD and SIGURG is forwarded to it, orphans are reaped (the injector is
// a child subreaper), and the command's status is passed on, 128+N when
// signal N killed it. [Config.Redact] supervises and streams the command's
// stdout and stderr through a [Redactor]. [Config.Files] delivers values as
// sealed in-memory files (memfd) instead of variables, in every mode.
//
// # Identity lookup
//
// The first source found wins, and later ones are not read:
// [Config.Identity], [Config.IdentityFD], the variables SEALENV_AGE_KEY,
// SEALENV_AGE_KEY_FILE, SOPS_AGE_KEY and SOPS_AGE_KEY_FILE, then
// [Config.IdentityDefaults] ([DefaultIdentityFile] unless set). The identity
// is read once. Every identity variable ([seal.IdentityEnvVars]: those the
// injector reads and those through which sops finds a key, such as
// SOPS_AGE_SSH_PRIVATE_KEY_FILE), whichever source was used, is removed from
// the command's environment, and no bundle may set one.
//
// # Signed bundles
//
// With an allowed signers file ([Config.Signers], or [DefaultSigners] when
// it exists), every bundle must carry a signature (BUNDLE.sig) by a key the
// file allows; package [github.com/sealenv/sealenv/seal/signature] checks
// it against the bundle's bytes before any identity is read or anything
// decrypted, and the access line names the signer.
//
// # Failure and exit statuses
//
// The injector fails closed: an unsigned bundle, a bad signature or a
// signer not allowed (with an allowed signers file), a missing or wrong identity, a tampered,
// malformed or missing bundle, a name conflict, a refused or reserved name,
// or bad settings stop the start before the command runs, with an [*Error]
// whose [ExitCode] is [ExitFailure] (125). A command that exists but cannot
// be executed is [ExitNotExecutable] (126); one that is not found is
// [ExitNotFound] (127), the convention of env(1), chroot(1) and docker run.
// Errors name the bundle, the key and the reason, never a value; they name
// settings through [Config.Describe], so a command shows its own flags.
//
// # Memory hygiene
//
// Best effort, on Linux: the process is made non-dumpable (no core dump, no
// ptrace or /proc/PID/mem by the same user) before the identity is read; the
// environment entries are built in one buffer outside the Go heap, locked
// against swap where RLIMIT_MEMLOCK allows and excluded from core dumps;
// decrypted values, the identity's bytes and the redactor's buffers are
// zeroed after use. What it cannot promise (copies the Go runtime makes, the
// command's own /proc/PID/environ) is listed in docs/inject.md.
package inject
