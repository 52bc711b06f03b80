package seal

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"filippo.io/age"
)

// Environment variables consulted for an identity, in order. The injector
// removes all of them from the child's environment.
const (
	EnvAgeKey         = "SEALENV_AGE_KEY"
	EnvAgeKeyFile     = "SEALENV_AGE_KEY_FILE"
	EnvSopsAgeKey     = "SOPS_AGE_KEY"
	EnvSopsAgeKeyFile = "SOPS_AGE_KEY_FILE"
)

// Variables through which sops (v3.13.3, age/keysource.go) finds an
// identity that sealenv does not read itself: a command that prints age
// keys, an SSH private key file, and a command that prints one.
const (
	EnvSopsAgeKeyCmd           = "SOPS_AGE_KEY_CMD"
	EnvSopsAgeSSHPrivateKey    = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"
	EnvSopsAgeSSHPrivateKeyCmd = "SOPS_AGE_SSH_PRIVATE_KEY_CMD"
)

// EnvSignKey names the SSH key sealenv signs bundles with (package
// seal/signing): a path, or the private key's text in CI. A command that
// could read it could sign a forged bundle.
const EnvSignKey = "SEALENV_SIGN_KEY"

// IdentityEnvVars lists every variable that carries an identity, points to
// one, or names a command that prints one: sealenv's and sops's, and
// sealenv's signing key ([EnvSignKey]). The
// injector removes them all from the command's environment, and no bundle
// may set one. sops's other variables (SOPS_AGE_RECIPIENTS, SOPS_PGP_FP,
// SOPS_KMS_ARN, SOPS_CONFIG, ...) name public recipients or settings and are
// not in the list; neither are GNUPGHOME and the cloud credentials sops
// uses, which belong to gpg and to the workload's own cloud identity.
// Each call returns a new slice: no caller can change the list.
func IdentityEnvVars() []string { return slices.Clone(identityEnvVars[:]) }

// IsIdentityEnvVar reports whether name is one of [IdentityEnvVars],
// without copying the list (the injector asks for every variable of the
// environment).
func IsIdentityEnvVar(name string) bool { return slices.Contains(identityEnvVars[:], name) }

var identityEnvVars = [...]string{EnvAgeKey, EnvAgeKeyFile, EnvSopsAgeKey, EnvSopsAgeKeyFile,
	EnvSopsAgeKeyCmd, EnvSopsAgeSSHPrivateKey, EnvSopsAgeSSHPrivateKeyCmd, EnvSignKey}

// maxIdentitySize caps identity input, as age.ParseIdentities does.
const maxIdentitySize = 16 << 20

// IdentityLookup says where to look for an identity. The first source found
// wins; later ones are not read.
type IdentityLookup struct {
	// File is an explicit identity file (the --identity flag). "-" is not
	// accepted here; the caller reads stdin itself if it wants that.
	File string
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Defaults are files tried last, in order; a missing file is skipped.
	Defaults []string
	// ReadFile reads an identity file (File, the path in a *_FILE variable,
	// a default); nil means open and read it, up to 16 MiB. The injector
	// passes one that refuses anything but a regular file.
	ReadFile func(path string) ([]byte, error)
}

// FoundIdentity is the result of [FindIdentitiesWith].
type FoundIdentity struct {
	Identities []age.Identity
	// Source names where the identity came from: "--identity FILE",
	// "SEALENV_AGE_KEY", "SOPS_AGE_KEY_FILE=PATH", a default path, ...
	Source string
	// FromEnv is true when the key text itself came from an environment
	// variable, which container runtimes show in inspect output.
	FromEnv bool
}

// ErrNoIdentity is returned by [FindIdentitiesWith] when no source has a key.
var ErrNoIdentity = errors.New("no identity found")

// DefaultIdentityFiles returns the sops default key file location:
// $XDG_CONFIG_HOME/sops/age/keys.txt or its platform equivalent.
func DefaultIdentityFiles() []string {
	dir, err := userConfigDir(runtime.GOOS, os.Getenv, os.UserConfigDir)
	if err != nil {
		return nil
	}
	return []string{filepath.Join(dir, "sops", "age", "keys.txt")}
}

// userConfigDir is where sops (v3.13.3, age/keysource.go) looks for
// sops/age/keys.txt: on macOS $XDG_CONFIG_HOME when set (os.UserConfigDir
// ignores it there), else os.UserConfigDir.
func userConfigDir(goos string, getenv func(string) string, osDir func() (string, error)) (string, error) {
	if goos == "darwin" {
		if d := getenv("XDG_CONFIG_HOME"); d != "" {
			return d, nil
		}
	}
	return osDir()
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdentitySize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxIdentitySize {
		clear(data)
		return nil, errors.New("larger than 16 MiB")
	}
	return data, nil
}
