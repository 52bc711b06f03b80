package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/duration"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

func rotateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rotate",
		Usage:     "replace a value with a new random one, keeping the old one for a grace period",
		ArgsUsage: "BUNDLE KEY",
		Description: "The new value comes from the key's generator in the policy, else 32 random\n" +
			"bytes as unpadded base64url, unless --bytes, --alphabet or --stdin say otherwise.\n" +
			"A new value that the key's rule in the policy refuses (pattern, min_length, a\n" +
			"placeholder) is never written. With --grace the old value stays in the bundle as\n" +
			"KEY" + seal.GraceSuffix + " until the grace period ends; expired grace values are dropped on the\n" +
			"next write. A key that is not in the bundle yet gets its first value when the\n" +
			"policy has a generator for it, or --bytes, --alphabet or --stdin name the value;\n" +
			"otherwise it is an error (use sealenv set).",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), adoptFlag(), signKeyFlag(),
			durationFlag("grace", "keep the old value as KEY"+seal.GraceSuffix+" for `DURATION` (72h, 3d, 2w; default: the policy's grace)"),
			&cli.IntFlag{Name: "bytes", Value: 32, Usage: "random bytes (base64url, hex) or characters (alnum)"},
			&cli.StringFlag{Name: "alphabet", Value: "base64url", Usage: "`base64url`, hex or alnum"},
			&cli.BoolFlag{Name: "stdin", Usage: "read the new value from stdin (e.g. a key issued by a vendor)"},
			&cli.BoolFlag{Name: "due", Usage: "rotate every value at or near its max_age in the policy (all bundles, or --env)"},
			&cli.StringFlag{Name: "env", Usage: "the bundle of environment `NAME` in the policy, instead of a BUNDLE argument; with --due: only that environment"},
			&cli.BoolFlag{Name: "dry-run", Usage: "with --due: list what is due, change nothing"},
			&cli.BoolFlag{Name: "yes", Usage: "run the policy's generator commands without asking (for CI; read docs/policy.md first)"},
			policyFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.Bool("due") {
				return e.rotateDue(c)
			}
			path, args, err := bundleAndArgs(c, 1, 1)
			if err != nil {
				return err
			}
			key := args[0]
			o := fleet.RotateKeyOptions{Confirm: e.confirmCommand(c), Write: e.writeOptions(c)}
			if c.IsSet("grace") {
				grace := flagDuration(c, "grace")
				o.Grace = &grace
			}
			if c.IsSet("bytes") || c.IsSet("alphabet") {
				o.Generator = &policies.Generator{Length: c.Int("bytes"), Alphabet: c.String("alphabet")}
			}
			if c.Bool("stdin") {
				o.Value = func() ([]byte, error) { return e.readValue(key, false, false, "give the new value on stdin") }
			}
			r, err := fleet.RotateKey(path, key, o)
			if err != nil {
				return e.pinRefusal(rotateError(path, key, err), key)
			}
			envKey := strings.ReplaceAll(key, ".", "_")
			switch {
			case r.Created:
				fmt.Fprintf(e.stderr, "created %s in %s (its first value, from %s)\n", key, path, sourceName(r.Source))
			case r.Grace > 0 && r.PolicyGrace:
				fmt.Fprintf(e.stderr, "rotated %s in %s; old value kept as %s%s for %s, the policy's grace\n", key, path, envKey, seal.GraceSuffix, duration.Format(r.Grace))
			case r.Grace > 0:
				fmt.Fprintf(e.stderr, "rotated %s in %s; old value kept as %s%s for %s\n", key, path, envKey, seal.GraceSuffix, flagDurationText(c, "grace"))
			default:
				fmt.Fprintf(e.stderr, "rotated %s in %s\n", key, path)
			}
			return nil
		},
	}
}

// sourceName names where rotate's new value came from, as the person
// chose it.
func sourceName(s fleet.Source) string {
	switch s {
	case fleet.SourceGiven:
		return "stdin"
	case fleet.SourceGenerator:
		return "--bytes/--alphabet"
	case fleet.SourcePolicy:
		return "the policy's generator"
	}
	return ""
}

// rotateError adds to an error of sealenv rotate the flags and commands
// that are the way out.
func rotateError(path, key string, err error) error {
	var mk *fleet.MissingKeyError
	var re *fleet.RefusedError
	switch {
	case errors.As(err, &mk):
		return fmt.Errorf("%w; give its first value with sealenv set %s %s, or name where it comes from (--stdin, --bytes, --alphabet, or a generator in the policy)", err, path, key)
	case errors.As(err, &re):
		return fmt.Errorf("%w (%s)", err, matchHint(re.Source))
	case errors.Is(err, fleet.ErrCommandRefused):
		return generatorError(err)
	}
	return nestedHint(path, writeError(path, err))
}

// matchHint says how to get a value the policy accepts, for the source
// that made the refused one.
func matchHint(source fleet.Source) string {
	switch source {
	case fleet.SourceGiven:
		return "check the value you gave"
	case fleet.SourcePolicy:
		return "the key's generator in the policy makes values its own rule refuses: fix one of them"
	}
	return "name a value that matches with --stdin, or set a generator for the key in the policy"
}

// confirmCommand asks before a generator command from the policy runs: on
// a terminal it shows the command and waits for "y"; --yes accepts every
// command; anything else refuses. Each command is asked once.
func (e *env) confirmCommand(c *cli.Context) func(string) error {
	yes := c.Bool("yes")
	asked := map[string]bool{}
	return func(command string) error {
		if yes || asked[command] {
			return nil
		}
		f, ok := e.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return fmt.Errorf("%w (%s)", fleet.ErrCommandRefused, command)
		}
		fmt.Fprintf(e.stderr, "the policy's generator runs a command with your permissions (identity variables removed):\n  sh -c %q\n", command)
		if !e.askNo("run it? [y/N] ") {
			return fmt.Errorf("%w (%s)", fleet.ErrCommandRefused, command)
		}
		asked[command] = true
		return nil
	}
}

// generatorError adds what to do to a refused generator command.
func generatorError(err error) error {
	if errors.Is(err, fleet.ErrCommandRefused) {
		return fmt.Errorf("%w; on a terminal, answer y to run it; elsewhere, review the policy and pass --yes", err)
	}
	return err
}

func (e *env) rotateDue(c *cli.Context) error {
	if c.NArg() > 0 {
		return errors.New("usage: sealenv rotate --due [--env NAME] [--dry-run]")
	}
	p, err := loadPolicy(c)
	if err != nil {
		return err
	}
	found, err := e.identities(c)
	if err != nil {
		return err
	}
	if err := e.recoverFleet(c); err != nil {
		return err
	}
	signing, closeKey, err := e.fleetSigning(c, p)
	if err != nil {
		return err
	}
	defer closeKey()
	done, err := fleet.RotateDue(p, found.Identities, fleet.RotateOptions{Env: c.String("env"), Now: e.now, DryRun: c.Bool("dry-run"), Confirm: e.confirmCommand(c), Signing: signing})
	if err != nil {
		return e.pinRefusal(recipientsHint(fleetAdoptHint(generatorError(err))), "")
	}
	verb := "rotated"
	if c.Bool("dry-run") {
		verb = "due"
	}
	n := 0
	for _, r := range done {
		v := verb
		if r.Manual {
			v = "due, rotate by hand (no generator in the policy):"
		} else {
			n++
		}
		fmt.Fprintf(e.stdout, "%s %s in %s (%s), %s old%s\n", v, r.Key, r.Env, r.Bundle, duration.Age(r.Age), dryRunCommand(c, r))
	}
	fmt.Fprintf(e.stderr, "%s %s, %d to rotate by hand\n", plural(n, "value"), verb, len(done)-n)
	return nil
}

// dryRunCommand says, for rotate --due --dry-run, which generator command
// would run for r and whether the policy pins it as it is.
func dryRunCommand(c *cli.Context, r fleet.Rotation) string {
	if !c.Bool("dry-run") || r.Command == "" {
		return ""
	}
	if r.Pin != nil {
		return fmt.Sprintf("; its generator command %q would be refused: %v (sealenv pin %s)", r.Command, r.Pin, r.Key)
	}
	return fmt.Sprintf("; would run the generator command %q (pinned, sha256 matches)", r.Command)
}
