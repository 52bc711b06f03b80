package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/fsutil"
)

func keygenCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "keygen",
		Usage:     "generate a new age identity",
		ArgsUsage: " ",
		Description: "Writes a new age identity to -o FILE (mode 0600, never overwriting) and prints\n" +
			"its public key (the recipient) on stdout; directories missing on the way to FILE\n" +
			"are created with mode 0700. Without -o the identity goes to stdout and the\n" +
			"recipient to stderr, like age-keygen.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the identity to `FILE`"},
			&cli.BoolFlag{Name: "pq", Usage: "generate a hybrid post-quantum identity (age1pq1...)"},
		},
		Action: func(c *cli.Context) error {
			var secret, recipient string
			if c.Bool("pq") {
				id, err := age.GenerateHybridIdentity()
				if err != nil {
					return err
				}
				secret, recipient = id.String(), id.Recipient().String()
			} else {
				id, err := age.GenerateX25519Identity()
				if err != nil {
					return err
				}
				secret, recipient = id.String(), id.Recipient().String()
			}
			text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", e.now().UTC().Format(time.RFC3339), recipient, secret)
			out := c.String("output")
			if out == "" {
				fmt.Fprintf(e.stderr, "Public key: %s\n", recipient)
				_, err := fmt.Fprint(e.stdout, text)
				return err
			}
			// A key's directory is private: only the directories created
			// here get 0700; existing ones keep their mode.
			made, err := fsutil.MkdirAllWithin(filepath.Dir(out), "", 0o700)
			if err != nil {
				return err
			}
			if err := fsutil.CreateExclusive(out, []byte(text), 0o600); err != nil {
				for i := len(made) - 1; i >= 0; i-- {
					os.Remove(made[i])
				}
				return pathError(out, err)
			}
			fmt.Fprintln(e.stdout, recipient)
			return nil
		},
	}
}
