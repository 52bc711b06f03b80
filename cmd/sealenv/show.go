package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/seal"
)

func showCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "list keys, recipients and metadata (needs no key, shows no value)",
		ArgsUsage: "BUNDLE",
		Description: "Without an identity the MAC cannot be checked, so what show prints is not\n" +
			"authenticated; sealenv check and the injector verify it. The signature (BUNDLE.sig)\n" +
			"is verified against the bundle's bytes, and its signer named by the policy's signers.",
		Flags: []cli.Flag{
			storeFlag(), policyFlag(), envFlag(),
			&cli.StringFlag{Name: "format", Value: "text", Usage: "`text` or json"},
		},
		Action: func(c *cli.Context) error {
			path, err := bundleArg(c)
			if err != nil {
				return err
			}
			v, err := bundlefile.Inspect(path, bundlefile.Options{Policy: c.String("policy"), Store: c.String("store"), Now: e.now})
			if err != nil {
				return writeError(path, err)
			}
			switch c.String("format") {
			case "json":
				return v.WriteJSON(e.stdout)
			case "text":
				return v.WriteText(e.stdout)
			}
			return fmt.Errorf("--format: unknown format %q (want text or json)", c.String("format"))
		},
	}
}

func revealCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "reveal",
		Usage:     "print decrypted values (needs an identity)",
		ArgsUsage: "BUNDLE [KEY]",
		Description: "With KEY, prints that value exactly (a newline is added only on a terminal).\n" +
			"Without KEY, prints every value as dotenv in sops's dialect (what sops decrypt\n" +
			"prints for a dotenv bundle, and what sealenv seal -i --dialect sops reads back),\n" +
			"as assignments bash reads back (--format shell: set -a; . FILE, or sealenv seal -i\n" +
			"--dialect shell), or as a JSON object. What changed outside sealenv goes to stderr.",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), envFlag(), policyFlag(),
			&cli.StringFlag{Name: "format", Value: "dotenv", Usage: "`dotenv` (sops's dialect), shell or json"},
		},
		Action: func(c *cli.Context) error {
			path, args, err := bundleAndArgs(c, 0, 1)
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "dotenv" && format != "shell" && format != "json" {
				return fmt.Errorf("--format: unknown format %q (want dotenv, shell or json)", format)
			}
			b, err := e.openBundle(c, path)
			if err != nil {
				return err
			}
			defer b.Zero()
			if len(args) == 1 {
				key := args[0]
				// A dotted name ("db.password", as show lists a nested
				// key) is the environment name with "_".
				if strings.Contains(key, ".") && b.Format == seal.FormatDotenv {
					return fmt.Errorf("%s: a dotenv bundle has no nested keys (dotted names are for YAML and JSON bundles)", path)
				}
				v := b.Lookup(strings.ReplaceAll(key, ".", "_"))
				if v == nil {
					for _, s := range b.Secrets {
						if strings.HasPrefix(s.Name, strings.ReplaceAll(key, ".", "_")+"_") {
							return fmt.Errorf("%s: %s holds nested keys, not one value; name one by its dotted path, as sealenv show %s lists them", path, key, path)
						}
					}
					return fmt.Errorf("%s: no key %q", path, key)
				}
				if _, err := e.stdout.Write(v); err != nil {
					return err
				}
				if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					fmt.Fprintln(e.stdout)
				}
				return nil
			}
			if format == "json" {
				var sb strings.Builder
				sb.WriteString("{")
				for i, s := range b.Secrets {
					if i > 0 {
						sb.WriteString(",")
					}
					k, _ := json.Marshal(s.Name)
					v, _ := json.Marshal(string(s.Value))
					fmt.Fprintf(&sb, "\n  %s: %s", k, v)
				}
				sb.WriteString("\n}\n")
				_, err := fmt.Fprint(e.stdout, sb.String())
				return err
			}
			var sb strings.Builder
			for _, s := range b.Secrets {
				v := string(s.Value)
				if format == "shell" {
					v = shellQuote(v)
				} else if strings.Contains(v, `\n`) {
					return fmt.Errorf("%s: the value of %s holds a literal \\n, which sops's dotenv dialect cannot carry; use --format shell or json", path, s.Name)
				} else {
					v = strings.ReplaceAll(v, "\n", `\n`)
				}
				fmt.Fprintf(&sb, "%s=%s\n", s.Name, v)
			}
			_, err = fmt.Fprint(e.stdout, sb.String())
			return err
		},
	}
}

// shellQuote quotes a value for bash (set -a; . FILE) when it is not a
// plain word: in single quotes, where nothing is special; a single quote
// inside closes them, is escaped with a backslash, and opens them again.
// sealenv seal -i --dialect shell reads it back.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/+=@%^") == "" && !strings.ContainsAny(v[:1], "=~") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
