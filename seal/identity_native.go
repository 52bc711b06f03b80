package seal

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fserr"
)

// Package seal parses native age identities only, so that a binary linking
// it (the sealenv-inject entrypoint, under 4 MiB) does not carry SSH and
// plugin support: agessh (RSA, ECDSA, ASN.1) and the plugin client cost
// about 1.2 MiB. Package seal/identities adds them for the full CLI.

// IdentityParser parses the content of an identity file or variable.
type IdentityParser func(data []byte) ([]age.Identity, error)

// ParseNativeIdentities parses native age identities only: one
// AGE-SECRET-KEY-1... or AGE-SECRET-KEY-PQ-1... per line, empty lines and "#"
// comments ignored. SSH keys and plugin identities are refused with a hint;
// identities.Parse reads those. Errors give a line number, never the line.
func ParseNativeIdentities(data []byte) ([]age.Identity, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return nil, errors.New("SSH keys are not supported here; use an age identity (sealenv keygen) or the full sealenv CLI")
	}
	return ParseIdentityLines(data, nil)
}

// ParseIdentityLines parses an identity file of one identity per line, empty
// lines and "#" comments ignored. AGE-PLUGIN- lines go to plugin; with a nil
// plugin they are refused. Errors give a line number, never the line.
func ParseIdentityLines(data []byte, plugin func(line string) (age.Identity, error)) ([]age.Identity, error) {
	if len(data) > maxIdentitySize {
		return nil, errors.New("identity file is larger than 16 MiB")
	}
	var ids []age.Identity
	// Lines as bufio.ScanLines cuts them (a last line without a newline
	// counts), without a scanner's 4 KiB buffer: the injector parses an
	// identity at every start.
	for n, rest := 1, data; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var id age.Identity
		var err error
		switch s := string(line); {
		case bytes.HasPrefix(line, []byte("AGE-PLUGIN-")):
			if plugin == nil {
				return nil, fmt.Errorf("line %d: plugin identities are not supported here; use the full sealenv CLI", n)
			}
			id, err = plugin(s)
		case bytes.HasPrefix(line, []byte("AGE-SECRET-KEY-PQ-1")):
			id, err = age.ParseHybridIdentity(s)
		case bytes.HasPrefix(line, []byte("AGE-SECRET-KEY-1")):
			id, err = age.ParseX25519Identity(s)
		default:
			err = errors.New("unknown identity type")
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: malformed identity", n)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("no identities found")
	}
	return ids, nil
}

// splitKeyText reads key text from a variable as sops reads SOPS_AGE_KEY:
// a whole keys.txt (its "# created:" and "# public key:" comment lines
// included, several keys) or keys separated by blanks on one line. A line
// starting with "#" stays a comment; every other line gives one line per
// word.
func splitKeyText(data []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] == '#' {
			out = append(append(out, line...), '\n')
			continue
		}
		for _, w := range bytes.Fields(line) {
			out = append(append(out, w...), '\n')
		}
	}
	return out
}

// FindIdentitiesWith looks up identities in order: File,
// SEALENV_AGE_KEY, SEALENV_AGE_KEY_FILE, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
// then Defaults; the first source found wins and is parsed with parse:
// [ParseNativeIdentities] here, or identities.Parse (SSH keys and plugins
// too) in package github.com/sealenv/sealenv/seal/identities.
func FindIdentitiesWith(l IdentityLookup, parse IdentityParser) (*FoundIdentity, error) {
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	fromData := func(data []byte, source string, fromEnv bool) (*FoundIdentity, error) {
		defer clear(data)
		ids, err := parse(data)
		if err != nil {
			return nil, fmt.Errorf("identity from %s: %w", source, err)
		}
		return &FoundIdentity{Identities: ids, Source: source, FromEnv: fromEnv}, nil
	}
	read := l.ReadFile
	if read == nil {
		read = readCapped
	}
	fromFile := func(path, source string) (*FoundIdentity, error) {
		data, err := read(path)
		if err != nil {
			return nil, fmt.Errorf("identity from %s: %w", source, fserr.Reason(err))
		}
		return fromData(data, source, false)
	}
	fromText := func(text, source string) (*FoundIdentity, error) {
		data := []byte(text)
		if !bytes.Contains(data, []byte("-----BEGIN")) {
			split := splitKeyText(data)
			clear(data)
			data = split
		}
		return fromData(data, source, true)
	}
	if l.File != "" {
		return fromFile(l.File, "--identity "+l.File)
	}
	for _, v := range []struct {
		name string
		file bool
	}{{EnvAgeKey, false}, {EnvAgeKeyFile, true}, {EnvSopsAgeKey, false}, {EnvSopsAgeKeyFile, true}} {
		val, ok := getenv(v.name)
		if !ok || val == "" {
			continue
		}
		if v.file {
			return fromFile(val, v.name+"="+val)
		}
		return fromText(val, v.name)
	}
	for _, p := range l.Defaults {
		if _, err := os.Stat(p); err == nil {
			return fromFile(p, p)
		}
	}
	return nil, ErrNoIdentity
}
