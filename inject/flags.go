package inject

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Setting names a field of [Config] in messages. The library speaks of its
// settings by these names ("pass Override API_TOKEN ..."); a command sets
// [Config.Describe] to name its own flags instead, as [Config.ParseArgs]
// does ("pass --override API_TOKEN ...").
type Setting string

// The settings that messages refer to.
const (
	SettingBundles              Setting = "Bundles"
	SettingOverride             Setting = "Override"
	SettingIdentity             Setting = "Identity"
	SettingIdentityFD           Setting = "IdentityFD"
	SettingAllowEnvOverride     Setting = "AllowEnvOverride"
	SettingAllowNames           Setting = "AllowNames"
	SettingFiles                Setting = "Files"
	SettingOnly                 Setting = "Only"
	SettingAllowUnauthenticated Setting = "AllowUnauthenticated"
	SettingStore                Setting = "Store"
)

// mention names setting s, with its argument when arg is not empty, as
// c.Describe says or else by the setting's own name.
func (c *Config) mention(s Setting, arg string) string {
	if c.Describe != nil {
		return c.Describe(s, arg)
	}
	if arg == "" {
		return string(s)
	}
	return string(s) + " " + arg
}

// flagNames maps each setting to the flag that sets it: the one place where
// the injector's flags are named. [NewFlagSet] declares exactly these (and
// the boolean mode flags), and [Usage] documents them.
var flagNames = map[Setting]string{
	SettingBundles:              "bundle",
	SettingOverride:             "override",
	SettingIdentity:             "identity",
	SettingIdentityFD:           "identity-fd",
	SettingAllowEnvOverride:     "allow-env-override",
	SettingAllowNames:           "allow-name",
	SettingFiles:                "file",
	SettingOnly:                 "only",
	SettingAllowUnauthenticated: "allow-unauthenticated",
	SettingStore:                "store",
	SettingSigners:              "signers",
	SettingNames:                "names",
}

// describeFlag names a setting by its flag: "--override API_TOKEN".
func describeFlag(s Setting, arg string) string {
	name, ok := flagNames[s]
	if !ok {
		name = string(s)
	}
	if arg == "" {
		return "--" + name
	}
	return "--" + name + " " + arg
}

// Usage returns the help text of the injector's command line, for program
// prog ("sealenv-inject" or "sealenv inject"). Both commands print this one
// text.
func Usage(prog string) string {
	return strings.ReplaceAll(usage, "PROG", prog)
}

const usage = `Usage: PROG [flags] -- CMD [ARGS...]

Decrypts sealed bundles into the environment of CMD, in memory only.

Flags:
  --bundle FILE              bundle to load; repeatable, merged in order
                             (default: $SEALENV_BUNDLE, colon-separated, else
                             /etc/sealenv/bundle.env, .yaml or .json)
  --store dotenv|yaml|json   the bundles' SOPS store (default: $SEALENV_STORE,
                             else from each file's name, else its content)
  --override KEY             let a later bundle redefine KEY; repeatable, "*" for all
  --identity FILE            age identity file
  --identity-fd N            read the age identity from file descriptor N, to its
                             end; 0 is stdin, which CMD then gets as /dev/null
                             (default: $SEALENV_AGE_KEY, $SEALENV_AGE_KEY_FILE,
                             $SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE, then
                             /run/secrets/sealenv_age_key; files must be regular)
  --allow-env-override KEY   keep KEY from the environment over the sealed value
  --allow-name NAME          allow a bundle to set NAME although it loads code,
                             leaks keys or redirects connections (PATH, LD_*,
                             HTTPS_PROXY, ...; see docs/inject.md)
  --file NAME[=VAR]          deliver NAME as an in-memory file; set VAR
                             (default NAME_FILE) to /proc/self/fd/N
  --supervise                stay as the parent: forward signals, reap zombies
  --redact                   supervise, and replace sealed values in the
                             command's stdout and stderr with [REDACTED:NAME]
  --no-access-log            do not print the JSON access line on stderr
  --only KEY                 pass only KEY (repeatable; its KEY_PREVIOUS grace value
                             too); a KEY no bundle has is an error; a listed proxy
                             or CA name (HTTPS_PROXY, ...) is allowed
  --allow-unauthenticated    start although a bundle has changes that nothing
                             authenticates (empty or unencrypted values added,
                             removed or renamed outside sealenv); the fix is to
                             review them and run sealenv adopt BUNDLE
  --signers FILE             allowed signers file (ssh-keygen -Y verify format):
                             every bundle must be signed (BUNDLE.sig) by a key
                             it allows, checked before anything is decrypted
                             (default: /etc/sealenv/allowed_signers if it exists)
  --names FILE               the names the bundles may set, one a line: any other
                             key is refused (default: /etc/sealenv/names if it
                             exists, which sealenv wrap and build write)

sealenv inject also reads SSH and age plugin identities, then the sops
keys.txt, and bundles whose data key only a KMS or PGP key unwraps; and it
takes --env NAME, the bundle of environment NAME in sealenv.yaml (and its
allow_names, as --allow-name), and --policy FILE, the policy to read it from.

Exit status: the command's; 125 when the injector fails (the command never
starts), 126 when CMD cannot be executed, 127 when CMD is not found, 128+N
when a supervised command is killed by signal N.
`

// list is a repeatable string flag.
type list []string

func (l *list) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// fdFlag sets Config.IdentityFD and IdentityFromFD: a descriptor given on
// the command line is read even when it is -1 (which then fails as a bad
// descriptor, rather than as a missing identity).
type fdFlag Config

func (f *fdFlag) String() string {
	if f == nil || !f.IdentityFromFD {
		return ""
	}
	return strconv.Itoa(f.IdentityFD)
}

func (f *fdFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a descriptor number")
	}
	f.IdentityFD, f.IdentityFromFD = n, true
	return nil
}

// NewFlagSet declares the injector's flags, bound to c, on a new flag set
// named prog. It is the one declaration behind both sealenv-inject and
// sealenv inject; [Config.ParseArgs] uses it. The flag set prints nothing
// itself: its output is discarded, and help is [Usage].
func NewFlagSet(prog string, c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Var((*list)(&c.Bundles), flagNames[SettingBundles], "")
	fs.Var((*list)(&c.Override), flagNames[SettingOverride], "")
	fs.StringVar(&c.Identity, flagNames[SettingIdentity], "", "")
	fs.Var((*fdFlag)(c), flagNames[SettingIdentityFD], "")
	fs.Var((*list)(&c.AllowEnvOverride), flagNames[SettingAllowEnvOverride], "")
	fs.Var((*list)(&c.AllowNames), flagNames[SettingAllowNames], "")
	fs.Var((*list)(&c.Files), flagNames[SettingFiles], "")
	fs.BoolVar(&c.Supervise, "supervise", false, "")
	fs.BoolVar(&c.Redact, "redact", false, "")
	fs.BoolVar(&c.NoAccessLog, "no-access-log", false, "")
	fs.Var((*list)(&c.Only), flagNames[SettingOnly], "")
	fs.BoolVar(&c.AllowUnauthenticated, flagNames[SettingAllowUnauthenticated], false, "")
	fs.StringVar(&c.Store, flagNames[SettingStore], "", "")
	fs.StringVar(&c.Signers, flagNames[SettingSigners], "", "")
	fs.StringVar(&c.Names, flagNames[SettingNames], "", "")
	return fs
}

// ParseArgs parses the injector's command line, flags then "--" then the
// command, into c, and makes c's messages name these flags. It returns
// [flag.ErrHelp] for -h and --help (the caller prints [Usage]), and an
// [*Error] with [ExitFailure] for bad flags; its text never repeats a flag's
// value, which may be a secret typed in the wrong place.
func (c *Config) ParseArgs(prog string, args []string) error {
	fs := NewFlagSet(prog, c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return &Error{Code: ExitFailure, Err: flagError(err)}
	}
	c.Args = fs.Args()
	c.Describe = describeFlag
	if c.Prog == "" {
		c.Prog = prog
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return &Error{Code: ExitFailure, Err: fmt.Errorf("no command: usage: %s [flags] -- CMD [ARGS...]", prog)}
	}
	return nil
}

// flagLike matches what a mistyped flag looks like; anything else is not
// echoed. Both patterns are compiled on the first bad flag, not at every
// start: a package-level regexp is compiled before main runs.
var flagLike = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^-{1,2}[a-zA-Z][a-zA-Z0-9-]{0,30}$`)
})

var invalidValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(` for (?:flag )?(-[a-zA-Z][a-zA-Z0-9-]{0,30}): `)
})

// flagError rewords the flag package's errors so that no value is echoed.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		if flagLike().MatchString(name) {
			return fmt.Errorf("unknown flag -%s", name)
		}
		return errors.New("unknown flag")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Errorf("flag -%s needs an argument", name)
	}
	// "invalid value "V" for flag -NAME: ...", "invalid boolean value "V" for -NAME: ...":
	// the last match is the flag, whatever V holds.
	if m := invalidValue().FindAllStringSubmatch(msg, -1); strings.HasPrefix(msg, "invalid ") && m != nil {
		return fmt.Errorf("invalid value for -%s", m[len(m)-1][1])
	}
	return errors.New("bad flags")
}
