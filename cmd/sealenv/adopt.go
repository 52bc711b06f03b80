package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/seal"
)

// adoptCommand is `sealenv adopt`: the one command a person runs after
// reviewing a bundle that another tool changed, or a SOPS file sealenv never
// wrote. It records the file as it is, so that the injector runs it.
func adoptCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "adopt",
		Usage:     "record a bundle as it is, after reviewing what changed outside sealenv (needs an identity)",
		ArgsUsage: "BUNDLE",
		Description: "sops edits are welcome, but the SOPS MAC does not authenticate the names of\n" +
			"empty or unencrypted values: a line such as FLAG= added, removed or renamed by\n" +
			"sops edit looks exactly like one typed in by anyone who can write the file. Such a\n" +
			"change stops the injector (exit 125) until a person reviews it (sealenv reveal\n" +
			"BUNDLE, sealenv show BUNDLE) and runs sealenv adopt BUNDLE, which rewrites the\n" +
			"bundle's sealenv metadata to record every name and value as they are now. Values\n" +
			"keep their ciphertext; a value another tool added or changed gets the file's\n" +
			"lastmodified time as its set time. It also adopts a SOPS file sealenv never wrote.\n" +
			"It records the fingerprint of every value whose fingerprint is missing or was made\n" +
			"for another value (sops set, sops edit), which an audit without an identity needs,\n" +
			"also when nothing else changed.\n" +
			"Like every write, it signs the bundle when a signing key is configured (see sealenv sign).\n" +
			"A value the file's sops rules store unencrypted (unencrypted_suffix, encrypted_regex, ...)\n" +
			"is refused by name unless --allow-plaintext KEY or the policy's public: list names it.",
		Flags: []cli.Flag{identityFlag(), storeFlag(), signKeyFlag(), envFlag(), policyFlag(), allowPlaintextFlag()},
		Action: func(c *cli.Context) error {
			path, err := bundleArg(c)
			if err != nil {
				return err
			}
			var changes []seal.Change
			var recorded bool
			var keys int
			var renew []string // values whose fingerprints are missing or stale
			err = bundlefile.Edit(path, e.writeOptions(c), func(b *bundlefile.Draft) (bool, error) {
				if err := b.CheckPlaintext(c.StringSlice("allow-plaintext")); err != nil {
					return false, err
				}
				changes, recorded, keys = b.Changes(), b.Recorded(), len(b.Names())
				var err error
				renew, err = b.OutdatedPrints()
				return !recorded || len(changes) > 0 || len(renew) > 0, err
			})
			if err != nil {
				return adoptError(path, err)
			}
			switch {
			case !recorded:
				fmt.Fprintf(e.stderr, "adopted %s: a SOPS file sealenv had not written; recorded its %s\n", path, plural(keys, "key"))
			case len(changes) == 0 && len(renew) == 0:
				fmt.Fprintf(e.stderr, "%s is as sealenv recorded it; nothing to adopt\n", path)
			case len(changes) > 0:
				fmt.Fprintf(e.stderr, "adopted %s: recorded %s\n", path, seal.DescribeChanges(changes))
			}
			reportPrints(e, path, recorded, renew)
			return nil
		},
	}
}
