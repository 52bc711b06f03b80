package main

import (
	"fmt"
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
			"its public key (the recipient) on stdout. Without -o the identity goes to stdout\n" +
			"and the recipient to stderr, like age-keygen.",
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
			if err := fsutil.CreateExclusive(out, []byte(text), 0o600); err != nil {
				return fmt.Errorf("keygen: %w", fsutil.Reason(err))
			}
			fmt.Fprintln(e.stdout, recipient)
			return nil
		},
	}
}
