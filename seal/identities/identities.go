// Package identities parses every kind of identity the age CLI accepts:
// native X25519 and post-quantum keys, unencrypted SSH private keys
// (ssh-ed25519, ssh-rsa) and age plugin identities. The full sealenv CLI uses
// it; the slim injector does not, so that it links neither agessh nor the
// plugin client (see [seal.ParseNativeIdentities]).
package identities

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/plugin"
	"golang.org/x/crypto/ssh"

	"github.com/sealenv/sealenv/seal"
)

// maxSize caps identity input, as age.ParseIdentities does.
const maxSize = 16 << 20

// Parse parses identity file content: one age identity per line
// (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1..., AGE-PLUGIN-...), with empty
// lines and "#" comments ignored; or a whole unencrypted OpenSSH/PEM private
// key (ssh-ed25519, ssh-rsa). Errors give a line number, never the line.
func Parse(data []byte, ui *plugin.ClientUI) ([]age.Identity, error) {
	if len(data) > maxSize {
		return nil, errors.New("identity file is larger than 16 MiB")
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		id, err := agessh.ParseIdentity(trimmed)
		if err != nil {
			var pme *ssh.PassphraseMissingError
			if errors.As(err, &pme) || strings.Contains(err.Error(), "passphrase") {
				return nil, errors.New("passphrase-protected SSH keys are not supported")
			}
			return nil, errors.New("malformed SSH private key")
		}
		return []age.Identity{id}, nil
	}
	if ui == nil {
		ui = nonInteractiveUI
	}
	return seal.ParseIdentityLines(data, func(line string) (age.Identity, error) {
		return plugin.NewIdentity(line, ui)
	})
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

// Parser returns [Parse] as a [seal.IdentityParser] with the plugin UI set.
func Parser(ui *plugin.ClientUI) seal.IdentityParser {
	return func(data []byte) ([]age.Identity, error) { return Parse(data, ui) }
}

// Find looks an identity up in the usual order (see
// [seal.FindIdentitiesWith]) and parses it with [Parse].
func Find(l seal.IdentityLookup, ui *plugin.ClientUI) (*seal.FoundIdentity, error) {
	return seal.FindIdentitiesWith(l, Parser(ui))
}
