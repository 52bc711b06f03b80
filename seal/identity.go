package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/plugin"
)

// Environment variables consulted for an identity, in order. The injector
// removes all of them from the child's environment.
const (
	EnvAgeKey         = "SEALENV_AGE_KEY"
	EnvAgeKeyFile     = "SEALENV_AGE_KEY_FILE"
	EnvSopsAgeKey     = "SOPS_AGE_KEY"
	EnvSopsAgeKeyFile = "SOPS_AGE_KEY_FILE"
)

// IdentityEnvVars lists every variable that can carry an identity or point to
// one.
var IdentityEnvVars = []string{EnvAgeKey, EnvAgeKeyFile, EnvSopsAgeKey, EnvSopsAgeKeyFile}

// maxIdentitySize caps identity input, as age.ParseIdentities does.
const maxIdentitySize = 16 << 20

// ParseIdentities parses identity file content: one age identity per line
// (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1..., AGE-PLUGIN-...), with empty
// lines and "#" comments ignored; or a whole unencrypted OpenSSH/PEM private
// key (ssh-ed25519, ssh-rsa). Errors give a line number, never the line.
func ParseIdentities(data []byte, ui *plugin.ClientUI) ([]age.Identity, error) {
	if len(data) > maxIdentitySize {
		return nil, errors.New("identity file is larger than 16 MiB")
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		id, err := agessh.ParseIdentity(trimmed)
		if err != nil {
			var pe interface{ Error() string }
			if errors.As(err, &pe) && strings.Contains(err.Error(), "passphrase") {
				return nil, errors.New("passphrase-protected SSH keys are not supported")
			}
			return nil, errors.New("malformed SSH private key")
		}
		return []age.Identity{id}, nil
	}
	if ui == nil {
		ui = nonInteractiveUI
	}
	var ids []age.Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxIdentitySize)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var id age.Identity
		var err error
		switch {
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			id, err = plugin.NewIdentity(line, ui)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(line)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(line)
		default:
			err = errors.New("unknown identity type")
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: malformed identity", n)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading identities: %v", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("no identities found")
	}
	return ids, nil
}

// nonInteractiveUI lets plugins print messages but refuses requests for
// input, which a container or CI job cannot answer.
var nonInteractiveUI = &plugin.ClientUI{
	DisplayMessage: func(name, msg string) error {
		fmt.Fprintf(os.Stderr, "age-plugin-%s: %s\n", name, msg)
		return nil
	},
	RequestValue: func(name, prompt string, secret bool) (string, error) {
		return "", fmt.Errorf("age-plugin-%s asked for input, and this is not interactive", name)
	},
	Confirm: func(name, prompt, yes, no string) (bool, error) {
		return false, fmt.Errorf("age-plugin-%s asked for confirmation, and this is not interactive", name)
	},
}

// IdentityLookup says where to look for an identity. The first source found
// wins; later ones are not read.
type IdentityLookup struct {
	// File is an explicit identity file (the --identity flag). "-" is not
	// accepted here; the caller reads stdin itself if it wants that.
	File string
	// FD, when not nil, is an open file to read the identity from (the
	// injector's --identity-fd). It is read and closed.
	FD *os.File
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Defaults are files tried last, in order; a missing file is skipped.
	Defaults []string
	// PluginUI is given to age plugins; nil refuses interactive requests.
	PluginUI *plugin.ClientUI
}

// FoundIdentity is the result of [FindIdentities].
type FoundIdentity struct {
	Identities []age.Identity
	// Source names where the identity came from: "--identity FILE",
	// "SEALENV_AGE_KEY", "SOPS_AGE_KEY_FILE=PATH", a default path, ...
	Source string
	// FromEnv is true when the key text itself came from an environment
	// variable, which container runtimes show in inspect output.
	FromEnv bool
}

// ErrNoIdentity is returned by [FindIdentities] when no source has a key.
var ErrNoIdentity = errors.New("no identity found")

// DefaultIdentityFiles returns the sops default key file location:
// $XDG_CONFIG_HOME/sops/age/keys.txt or its platform equivalent.
func DefaultIdentityFiles() []string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(dir, "sops", "age", "keys.txt")}
}

// FindIdentities looks up identities in order: File, FD, SEALENV_AGE_KEY,
// SEALENV_AGE_KEY_FILE, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, then Defaults.
func FindIdentities(l IdentityLookup) (*FoundIdentity, error) {
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	fromFile := func(path, source string) (*FoundIdentity, error) {
		data, err := readCapped(path)
		if err != nil {
			return nil, fmt.Errorf("identity from %s: %w", source, cleanPathErr(err))
		}
		defer clear(data)
		ids, err := ParseIdentities(data, l.PluginUI)
		if err != nil {
			return nil, fmt.Errorf("identity from %s: %w", source, err)
		}
		return &FoundIdentity{Identities: ids, Source: source}, nil
	}
	fromText := func(text, source string) (*FoundIdentity, error) {
		data := []byte(text)
		// SOPS_AGE_KEY may hold several keys separated by spaces on one line.
		if !bytes.Contains(data, []byte("-----BEGIN")) {
			data = bytes.Join(bytes.Fields(data), []byte("\n"))
		}
		ids, err := ParseIdentities(data, l.PluginUI)
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("identity from %s: %w", source, err)
		}
		return &FoundIdentity{Identities: ids, Source: source, FromEnv: true}, nil
	}
	if l.File != "" {
		return fromFile(l.File, "--identity "+l.File)
	}
	if l.FD != nil {
		data, err := io.ReadAll(io.LimitReader(l.FD, maxIdentitySize+1))
		l.FD.Close()
		if err != nil {
			return nil, fmt.Errorf("identity from fd %d: %v", l.FD.Fd(), err)
		}
		defer clear(data)
		ids, err := ParseIdentities(data, l.PluginUI)
		if err != nil {
			return nil, fmt.Errorf("identity from --identity-fd: %w", err)
		}
		return &FoundIdentity{Identities: ids, Source: "--identity-fd"}, nil
	}
	if v, ok := getenv(EnvAgeKey); ok && v != "" {
		return fromText(v, EnvAgeKey)
	}
	if v, ok := getenv(EnvAgeKeyFile); ok && v != "" {
		return fromFile(v, EnvAgeKeyFile+"="+v)
	}
	if v, ok := getenv(EnvSopsAgeKey); ok && v != "" {
		return fromText(v, EnvSopsAgeKey)
	}
	if v, ok := getenv(EnvSopsAgeKeyFile); ok && v != "" {
		return fromFile(v, EnvSopsAgeKeyFile+"="+v)
	}
	for _, p := range l.Defaults {
		if _, err := os.Stat(p); err == nil {
			return fromFile(p, p)
		}
	}
	return nil, ErrNoIdentity
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

// cleanPathErr drops the "open PATH:" prefix when the caller already names
// the path.
func cleanPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
