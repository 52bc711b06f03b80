package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/lazyregexp"
)

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "The script completes commands, flags, and the values of flags that take a\n" +
			"choice (--format, --store, ...) or a file. It is static: it runs nothing when\n" +
			"you press Tab. Load it from your shell's startup file:\n\n" +
			"  bash (~/.bashrc):                   source <(sealenv completion bash)\n" +
			"  zsh (~/.zshrc, after compinit):     source <(sealenv completion zsh)\n" +
			"  fish (~/.config/fish/config.fish):  sealenv completion fish | source",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: sealenv completion bash|zsh|fish")
			}
			tree := completionTree(c.App)
			switch shell := c.Args().First(); shell {
			case "bash":
				return writeBash(e.stdout, tree, false)
			case "zsh":
				return writeBash(e.stdout, tree, true)
			case "fish":
				return writeFish(e.stdout, tree)
			default:
				msg := fmt.Sprintf("usage: sealenv completion: no shell %q (want bash, zsh or fish)", shell)
				if s := closest(shell, []string{"bash", "zsh", "fish"}); s != "" {
					msg += "; did you mean " + s + "?"
				}
				return fmt.Errorf("%s", msg)
			}
		},
	}
}

// compCmd is what completion knows of one command.
type compCmd struct {
	path  string // "" for sealenv itself, "seal", "audit image"
	usage string
	subs  []*compCmd
	flags []compFlag
	// args are the words its positional arguments are chosen from; with
	// none, they are files.
	args []string
	// command: everything after "--" is a command line (inject).
	command bool
}

type compFlag struct {
	names   []string // long first
	usage   string
	value   bool     // takes a value
	files   bool     // the value is a file or directory
	choices []string // the value is one of these
}

func completionTree(app *cli.App) *compCmd {
	root := &compCmd{usage: app.Usage, flags: compFlags(app.Flags)}
	root.subs = compCmds("", app.Commands)
	return root
}

func compCmds(parent string, cmds []*cli.Command) []*compCmd {
	var out []*compCmd
	for _, c := range cmds {
		if c.Hidden || parent != "" && c.Name == "help" {
			continue // urfave/cli's "CMD help SUB", which sealenv help does better
		}
		cc := &compCmd{path: strings.TrimSpace(parent + " " + c.Name), usage: c.Usage, flags: compFlags(c.Flags)}
		if !c.HideHelp && lookupFlag(c.Flags, "help") == nil {
			cc.flags = append(cc.flags, compFlag{names: []string{"help", "h"}, usage: "show help"})
		}
		cc.subs = compCmds(cc.path, c.Subcommands)
		switch cc.path {
		case "help":
			for _, s := range cmds {
				if !s.Hidden {
					cc.args = append(cc.args, s.Name)
				}
			}
		case "completion":
			cc.args = []string{"bash", "zsh", "fish"}
		case "inject":
			cc.flags, cc.command = injectCompFlags(), true
		}
		out = append(out, cc)
	}
	return out
}

var (
	// "`text`, json or sarif", "low, `medium` or high": a list of choices.
	choiceList = lazyregexp.New(`^(?:.*: )?([a-z0-9-]+(?:, [a-z0-9-]+)* or [a-z0-9-]+)$`)
	fileValue  = lazyregexp.New(`FILE|DIR|BUNDLE|PATH`)
	// "`dotenv` (sops's dialect), shell or json": asides are not choices.
	parenthetical = lazyregexp.New(`\s*\([^)]*\)`)
)

func compFlags(flags []cli.Flag) []compFlag {
	var out []compFlag
	for _, f := range flags {
		if f == cli.HelpFlag {
			out = append(out, compFlag{names: []string{"help", "h"}, usage: "show help"})
			continue
		}
		cf := compFlag{names: f.Names()}
		if df, ok := f.(cli.DocGenerationFlag); ok {
			cf.value = df.TakesValue()
			placeholder, usage := unquoteUsage(df.GetUsage())
			cf.usage = usage
			if cf.value {
				cf.files = fileValue().MatchString(placeholder)
				if strings.Contains(placeholder, "|") {
					cf.choices = strings.Split(placeholder, "|")
				} else if m := choiceList().FindStringSubmatch(parenthetical().ReplaceAllString(usage, "")); m != nil {
					cf.choices = strings.FieldsFunc(strings.ReplaceAll(m[1], " or ", ", "), func(r rune) bool { return r == ',' || r == ' ' })
				}
			}
		}
		out = append(out, cf)
	}
	return out
}

// injectCompFlags lists the flags of sealenv inject, which package inject
// declares (see injectCommand).
func injectCompFlags() []compFlag {
	var out []compFlag
	inject.NewFlagSet("sealenv inject", &inject.Config{}).VisitAll(func(f *flag.Flag) {
		b, isBool := f.Value.(interface{ IsBoolFlag() bool })
		value := !isBool || !b.IsBoolFlag()
		out = append(out, compFlag{names: []string{f.Name}, value: value, files: value && (f.Name == "bundle" || f.Name == "identity")})
	})
	// sealenv inject's own flags (see injectEnvArgs).
	out = append(out, compFlag{names: []string{"env"}, value: true}, compFlag{names: []string{"policy"}, value: true, files: true})
	return append(out, compFlag{names: []string{"help", "h"}, usage: "show help"})
}

func (c *compCmd) walk(fn func(*compCmd)) {
	fn(c)
	for _, s := range c.subs {
		s.walk(fn)
	}
}

// words lists what completes c: its subcommands, all its flags, the flags
// that take a value, those whose value is a file, and its fixed arguments.
func (c *compCmd) words() (subs, flags, values, files []string) {
	for _, s := range c.subs {
		subs = append(subs, lastWord(s.path))
	}
	for _, f := range c.flags {
		for _, n := range f.names {
			flags = append(flags, dashed(n))
			if f.value {
				values = append(values, dashed(n))
			}
			if f.files {
				files = append(files, dashed(n))
			}
		}
	}
	return
}

func lastWord(path string) string { return path[strings.LastIndex(path, " ")+1:] }

// writeBash writes the bash script; for zsh, the same behind zsh's bash
// completion emulation (bashcompinit), so both shells complete alike.
func writeBash(w io.Writer, root *compCmd, zsh bool) error {
	var b strings.Builder
	shell := "bash"
	if zsh {
		shell = "zsh"
	}
	fmt.Fprintf(&b, "# %s completion for sealenv, written by `sealenv completion %s`.\n", shell, shell)
	if zsh {
		b.WriteString("# Load it after compinit: source <(sealenv completion zsh)\n")
		b.WriteString("autoload -U +X bashcompinit && bashcompinit\n")
	} else {
		b.WriteString("# Load it: source <(sealenv completion bash)\n")
	}
	b.WriteString("\n# __sealenv_words PATH KIND prints the words of command PATH: subs, flags,\n# values (flags that take a value), files (flags whose value is a file),\n# args (fixed arguments), choices:FLAG (the values FLAG takes).\n")
	b.WriteString("__sealenv_words() {\n\tcase \"$1|$2\" in\n")
	root.walk(func(c *compCmd) {
		subs, flags, values, files := c.words()
		emit := func(kind string, words []string) {
			if len(words) > 0 {
				fmt.Fprintf(&b, "\t'%s|%s') echo '%s' ;;\n", c.path, kind, strings.Join(words, " "))
			}
		}
		emit("subs", subs)
		emit("flags", flags)
		emit("values", values)
		emit("files", files)
		emit("args", c.args)
		if c.command {
			fmt.Fprintf(&b, "\t'%s|command') echo yes ;;\n", c.path)
		}
		for _, f := range c.flags {
			for _, n := range f.names {
				emit("choices:"+dashed(n), f.choices)
			}
		}
	})
	b.WriteString("\tesac\n}\n\n")
	b.WriteString(bashBody)
	return writeAll(w, b.String())
}

func writeAll(w io.Writer, s string) error {
	_, err := io.WriteString(w, s)
	return err
}

// bashBody completes from the command line up to the cursor, split at
// blanks (so --store=yaml and docker-archive:FILE stay one word).
const bashBody = `__sealenv_has() { [[ " $1 " == *" $2 "* ]]; }

__sealenv_complete() {
	# Runs in bash and, through bashcompinit, in zsh's sh emulation
	# (arrays from 0, words split at blanks): no bash-only syntax.
	local line=${COMP_LINE:0:$COMP_POINT} noglob=
	local -a cw
	[[ $- == *f* ]] && noglob=1
	set -f
	cw=($line)
	[[ -n $noglob ]] || set +f
	[[ $line == *[[:blank:]] || ${#cw[@]} -eq 0 ]] && cw+=("")
	local cur=${cw[${#cw[@]}-1]} prev=
	((${#cw[@]} > 1)) && prev=${cw[${#cw[@]}-2]}
	local cmd= w skip= i dashdash= nargs=0
	for ((i = 1; i < ${#cw[@]} - 1; i++)); do
		w=${cw[i]}
		if [[ -n $dashdash ]]; then
			nargs=$((nargs + 1))
			continue
		fi
		if [[ -n $skip ]]; then
			skip=
			continue
		fi
		case $w in
		--) dashdash=1 ;;
		-*=*) ;;
		-*) __sealenv_has "$(__sealenv_words "$cmd" values)" "$w" && skip=1 ;;
		*) __sealenv_has "$(__sealenv_words "$cmd" subs)" "$w" && cmd=${cmd:+$cmd }$w ;;
		esac
	done
	COMPREPLY=()
	if [[ -n $dashdash ]]; then
		if [[ -n $(__sealenv_words "$cmd" command) && $nargs -eq 0 ]]; then
			COMPREPLY=($(compgen -c -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
	fi
	local flag=
	if [[ $cur == -*=* ]]; then
		flag=${cur%%=*}
		cur=${cur#*=}
	elif [[ -n $skip ]]; then
		flag=$prev
	fi
	if [[ -n $flag ]]; then
		local choices
		choices=$(__sealenv_words "$cmd" "choices:$flag")
		if [[ -n $choices ]]; then
			COMPREPLY=($(compgen -W "$choices" -- "$cur"))
		elif __sealenv_has "$(__sealenv_words "$cmd" files)" "$flag"; then
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(__sealenv_words "$cmd" flags)" -- "$cur"))
		return 0
	fi
	local subs args
	subs=$(__sealenv_words "$cmd" subs)
	args=$(__sealenv_words "$cmd" args)
	if [[ -n $subs || -n $args ]]; then
		COMPREPLY=($(compgen -W "$subs $args" -- "$cur"))
		return 0
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -o bashdefault -F __sealenv_complete sealenv
`

// writeFish writes the fish script: one complete line per command, flag
// and choice, with the usage texts as descriptions.
func writeFish(w io.Writer, root *compCmd) error {
	var b strings.Builder
	b.WriteString("# fish completion for sealenv, written by `sealenv completion fish`.\n# Load it: sealenv completion fish | source\n\n")
	b.WriteString("# __sealenv_words PATH KIND: as in the bash script.\nfunction __sealenv_words\n\tswitch \"$argv[1]|$argv[2]\"\n")
	root.walk(func(c *compCmd) {
		subs, _, values, _ := c.words()
		// In a fixed order: the same sealenv writes the same script.
		for _, k := range []struct {
			kind  string
			words []string
		}{{"subs", subs}, {"values", values}} {
			if len(k.words) > 0 {
				fmt.Fprintf(&b, "\t\tcase '%s|%s'\n\t\t\tstring split ' ' -- '%s'\n", c.path, k.kind, strings.Join(k.words, " "))
			}
		}
	})
	b.WriteString("\tend\nend\n\n")
	b.WriteString(fishBody)
	root.walk(func(c *compCmd) {
		cond := fmt.Sprintf(`-n "__sealenv_is %s"`, fishQuote(c.path))
		for _, s := range c.subs {
			fmt.Fprintf(&b, "complete -c sealenv %s -f -a %s -d %s\n", cond, fishQuote(lastWord(s.path)), fishQuote(s.usage))
		}
		if len(c.args) > 0 {
			fmt.Fprintf(&b, "complete -c sealenv %s -f -a %s\n", cond, fishQuote(strings.Join(c.args, " ")))
		}
		if c.command {
			fmt.Fprintf(&b, "complete -c sealenv -n \"__sealenv_is %s\" -a '(__fish_complete_command)'\n", fishQuote(c.path+" --"))
		}
		for _, f := range c.flags {
			line := "complete -c sealenv " + cond
			for _, n := range f.names {
				if len(n) == 1 {
					line += " -s " + n
				} else if c.command {
					line += " -o " + n // inject's flags take one dash or two
					line += " -l " + n
				} else {
					line += " -l " + n
				}
			}
			switch {
			case len(f.choices) > 0:
				line += " -x -a " + fishQuote(strings.Join(f.choices, " "))
			case f.files:
				line += " -r -F"
			case f.value:
				line += " -x"
			}
			if f.usage != "" {
				line += " -d " + fishQuote(f.usage)
			}
			b.WriteString(line + "\n")
		}
	})
	return writeAll(w, b.String())
}

// __sealenv_is PATH: the command line so far names command PATH, with no
// "--" yet.
const fishBody = `function __sealenv_path
	set -l path
	set -l skip 0
	for t in (commandline -opc)[2..-1]
		if test $skip = 1
			set skip 0
			continue
		end
		switch $t
			case --
				echo -- (string trim -- "$path --")
				return
			case '-*=*'
				continue
			case '-*'
				if contains -- $t (__sealenv_words "$path" values)
					set skip 1
				end
				continue
		end
		if contains -- $t (__sealenv_words "$path" subs)
			set path (string trim -- "$path $t")
		end
	end
	echo -- $path
end

function __sealenv_is
	test (__sealenv_path) = "$argv[1]"
end

`

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// unquoteUsage returns the placeholder of a flag's usage (the text in
// backquotes, as urfave/cli shows it: "--output FILE") and the usage
// without the quotes.
func unquoteUsage(usage string) (string, string) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage
	}
	name := usage[i+1 : i+1+j]
	return name, usage[:i] + name + usage[i+2+j:]
}
