package inject

import (
	"errors"
	"io/fs"
	"os"

	"github.com/sealenv/sealenv/internal/fserr"
	"github.com/sealenv/sealenv/seal/signature"
)

// DefaultSigners is the allowed signers file the injector uses when
// [Config.Signers] is empty and the file exists: where `sealenv wrap` and
// Dockerfile.example put it.
const DefaultSigners = "/etc/sealenv/allowed_signers"

// SettingSigners names [Config.Signers] in messages.
const SettingSigners Setting = "Signers"

// signersFile decides which allowed signers file applies: Signers, else
// the default when it exists (any file there, even one that cannot be
// read, turns the check on), else none ("").
func (c *Config) signersFile() (string, bool) {
	if c.Signers != "" {
		return c.Signers, true
	}
	def := c.SignersDefault
	if def == "" {
		def = DefaultSigners
	}
	if _, err := os.Lstat(def); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return def, false
	}
	return "", false
}

// loadSigners reads and parses the allowed signers file, or returns nil
// when there is none (no signature check, as before signatures existed).
func (c *Config) loadSigners() (*signature.AllowedSigners, string, error) {
	path, explicit := c.signersFile()
	if path == "" {
		return nil, "", nil
	}
	where := path
	if explicit {
		where = c.mention(SettingSigners, path)
	}
	data, err := readRegular(path, signature.MaxAllowedSignersSize)
	if err != nil {
		return nil, "", fail(ExitFailure, "%s: %v", where, fserr.Reason(err))
	}
	a, err := signature.ParseAllowedSigners(data)
	if err != nil {
		return nil, "", fail(ExitFailure, "%s: %v", where, err)
	}
	if a.Len() == 0 {
		return nil, "", fail(ExitFailure, "%s: lists no signer, so no bundle could be allowed", where)
	}
	return a, path, nil
}

// verifySignature checks the signature file of the bundle at path
// (BUNDLE.sig next to its target: [signature.Locate]) against data, the bundle's bytes as read, and the allowed
// signers from file. It runs before any identity is read and anything is
// decrypted.
func (c *Config) verifySignature(path string, data []byte, allowed *signature.AllowedSigners, file string) (*signature.Signer, error) {
	sigPath := signature.Locate(path)
	sig, err := readRegular(sigPath, signature.MaxSignatureSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fail(ExitFailure, "%s: %v: no signature %s, and the allowed signers file %s requires one", path, signature.ErrUnsigned, sigPath, file)
	}
	if err != nil {
		return nil, fail(ExitFailure, "%s: %v: %s: %v", path, signature.ErrBadSignature, sigPath, fserr.Reason(err))
	}
	s, err := signature.Verify(data, sig, allowed, c.Now())
	if errors.Is(err, signature.ErrNotAllowed) {
		return nil, fail(ExitFailure, "%s: %v (%s)", path, err, file)
	}
	if err != nil {
		return nil, fail(ExitFailure, "%s: %v", path, err)
	}
	return s, nil
}
