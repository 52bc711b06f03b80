package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/policies"
)

func allowPlaintextFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "allow-plaintext", Usage: "record `KEY`'s value although the file stores it unencrypted: it is not a secret (repeatable)"}
}

// adoptError is writeError, with the way forward for values stored
// unencrypted.
func adoptError(path string, err error) error {
	var pe *bundlefile.PlaintextError
	if !errors.As(err, &pe) {
		return writeError(path, err)
	}
	flags := "--allow-plaintext " + strings.Join(pe.Keys, " --allow-plaintext ")
	return fmt.Errorf("%w: adopt records them as they are; if none is a secret, run sealenv adopt %s %s (and list them under public: in %s); if one is, treat it as leaked and remove it (sealenv unset %s KEY) first", pe, flags, path, policies.FileName, path)
}
