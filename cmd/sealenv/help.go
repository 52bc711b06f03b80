package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/lazyregexp"
)

// helpCommand is `sealenv help [COMMAND [SUBCOMMAND]]`: the same text as
// `sealenv COMMAND --help`; an unknown name is a usage error that names the
// closest command.
func helpCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the help of sealenv or of a command",
		ArgsUsage: "[COMMAND [SUBCOMMAND]]",
		Action: func(c *cli.Context) error {
			path := c.Args().Slice()
			cmds := c.App.Commands
			for i, name := range path {
				cmd := findCommand(cmds, name)
				if cmd == nil {
					return unknownCommand(strings.Join(append([]string{"sealenv"}, path[:i]...), " "), name, cmds)
				}
				cmds = cmd.Subcommands
			}
			args := append(append([]string{"sealenv"}, path...), "--help")
			return newApp(e).RunContext(c.Context, args)
		},
	}
}

// unknownCommand is the usage error for a command name that parent does
// not have.
func unknownCommand(parent, name string, cmds []*cli.Command) error {
	msg := fmt.Sprintf("usage: %s has no command %q", parent, name)
	if s := closest(name, commandNames(cmds)); s != "" {
		msg += fmt.Sprintf("; did you mean %s %s?", parent, s)
	}
	return fmt.Errorf("%s (see %s)", msg, helpFor(parent))
}

// helpFor is the command that shows the help of the command line cmd
// ("sealenv audit" gives "sealenv help audit").
func helpFor(cmd string) string {
	if rest, ok := strings.CutPrefix(cmd, "sealenv "); ok {
		return "sealenv help " + rest
	}
	return "sealenv help"
}

func commandNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	return names
}

// noCommand is the action of sealenv and of a command with subcommands
// (audit) when no subcommand matched: help without arguments, a usage
// error naming the closest command otherwise.
func noCommand(parent string) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() == 0 {
			if parent == "sealenv" {
				return cli.ShowAppHelp(c)
			}
			return cli.ShowSubcommandHelp(c)
		}
		cmds := c.App.Commands
		if c.Command != nil && parent != "sealenv" {
			cmds = c.Command.Subcommands
		}
		return unknownCommand(parent, c.Args().First(), cmds)
	}
}

// closest returns the candidate nearest to s: the only one s is a prefix
// of, else the one within an edit distance of 2 (1 for words of up to 4
// letters), else "". Two candidates equally near are no suggestion.
func closest(s string, candidates []string) string {
	if s == "" {
		return ""
	}
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(c, s) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestD := "", 3
	if len(s) <= 4 {
		bestD = 2
	}
	tie := false
	for _, c := range candidates {
		switch d := editDistance(s, c); {
		case d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD && best != "":
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Go's flag package, which urfave/cli parses with, words its errors so.
var (
	errUnknownFlag = lazyregexp.New(`^flag provided but not defined: -+(.+)$`)
	errFlagValue   = lazyregexp.New(`^invalid value ".*" for flag -+([^:\s]+): (.*)$`)
	errBoolValue   = lazyregexp.New(`^invalid boolean value ".*" for -+([^:\s]+): `)
	errNeedsValue  = lazyregexp.New(`^flag needs an argument: -+(.+)$`)
)

// usageError turns urfave/cli's usage errors into one line that names the
// flag and what is wrong with it, never echoes an argument that may be a
// secret, and suppresses the help dump.
func usageError(c *cli.Context, err error, _ bool) error {
	name := commandLine(c)
	var flags []cli.Flag
	if c != nil && c.Command != nil {
		flags = c.Command.Flags
	}
	if c != nil && c.Command != nil && c.Command.Name == c.App.Name {
		flags = c.App.Flags
	}
	msg := err.Error()
	if m := errUnknownFlag().FindStringSubmatch(msg); m != nil && flagName().MatchString(m[1]) {
		out := fmt.Sprintf("usage: %s has no flag %s", name, dashed(m[1]))
		if s := closest(m[1], flagNames(flags)); s != "" {
			out += fmt.Sprintf("; did you mean %s?", dashed(s))
		}
		return fmt.Errorf("%s (see %s)", out, helpFor(name))
	}
	if m := errFlagValue().FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("usage: %s: %s (see %s)", dashed(m[1]), valueReason(lookupFlag(flags, m[1]), m[2]), helpFor(name))
	}
	if m := errBoolValue().FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("usage: %s takes no value, or =true or =false (see %s)", dashed(m[1]), helpFor(name))
	}
	if m := errNeedsValue().FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("usage: %s needs a value (see %s)", dashed(m[1]), helpFor(name))
	}
	return fmt.Errorf("usage: bad flags or arguments (see %s)", helpFor(name))
}

// commandLine is the command c runs as a person types it: "sealenv",
// "sealenv rotate", "sealenv audit image".
func commandLine(c *cli.Context) string {
	if c == nil || c.Command == nil || c.App == nil || c.Command.Name == c.App.Name || c.Command.Name == "" {
		return "sealenv"
	}
	if c.Command.HelpName != "" && strings.HasPrefix(c.Command.HelpName, "sealenv ") {
		return c.Command.HelpName
	}
	return "sealenv " + c.Command.Name
}

// valueReason says what is wrong with a flag's value: the flag's own
// reason (a duration, a size), or, for Go's terse "parse error", what the
// flag wants.
func valueReason(f cli.Flag, reason string) string {
	if reason != "parse error" && reason != "value out of range" {
		return reason
	}
	switch f.(type) {
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		if reason == "value out of range" {
			return "number out of range"
		}
		return "not a whole number"
	case *cli.Float64Flag:
		return "not a number"
	}
	return "not a valid value"
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func flagNames(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	sort.Strings(names)
	return names
}

// dashed writes a flag name as it is typed: -o, --output.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// setUsageErrors gives every command the same usage-error handler, and
// every command with subcommands an action for an unknown one.
func setUsageErrors(parent string, cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = usageError
		if len(c.Subcommands) > 0 {
			if c.Action == nil {
				c.Action = noCommand(parent + " " + c.Name)
			}
			setUsageErrors(parent+" "+c.Name, c.Subcommands)
		}
	}
}
