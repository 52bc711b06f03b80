package inject

import (
	"errors"
	"slices"
	"strings"

	"github.com/sealenv/sealenv/seal"
)

// nameClass says why a bundle may not set a name without an explicit allow.
// Anyone who holds a recipient's public key can write a valid bundle, so a
// bundle must not be able to change, through a name the program or a
// runtime reads before any application code, what the process loads, where
// it writes its keys, or where it connects.
type nameClass uint8

const (
	nameSafe nameClass = iota
	// nameCode changes what code or configuration the process loads or
	// runs: loaders, interpreters' module paths and start-up hooks,
	// profilers, shell start-up files.
	nameCode
	// nameLeak makes the process write TLS keys, traces or its memory to a
	// place the bundle names.
	nameLeak
	// nameRedirect changes where the process connects or whom it trusts:
	// proxies, resolver settings, CA bundles. A service that is meant to
	// receive one lists it among its keys (Config.Only).
	nameRedirect
)

func (k nameClass) String() string {
	switch k {
	case nameCode:
		return "code"
	case nameLeak:
		return "leak"
	case nameRedirect:
		return "redirect"
	}
	return "safe"
}

// reason is the part of an error that says what the name could do.
func (k nameClass) reason() string {
	switch k {
	case nameCode:
		return "could change what code the program loads or runs"
	case nameLeak:
		return "could make the program write keys, traces or its memory out"
	}
	return "could redirect the program's connections or change whom it trusts"
}

// refusedNames and refusedPrefixes are the denylist. docs/inject.md has the
// same list with a reason and a source for each entry, and a test keeps the
// two identical.
var refusedNames = map[string]nameClass{
	// The command search path and shells.
	"PATH": nameCode, "IFS": nameCode, "ENV": nameCode, "BASH_ENV": nameCode,
	"SHELLOPTS": nameCode, "BASHOPTS": nameCode, "PS4": nameCode,
	"PROMPT_COMMAND": nameCode, "CDPATH": nameCode, "BASH_LOADABLES_PATH": nameCode,
	"BASH_XTRACEFD": nameLeak, "ZDOTDIR": nameCode, "FPATH": nameCode,
	"HOME": nameCode, "SHELL": nameCode,
	// glibc: the secure-execution list beyond LD_* and MALLOC_*.
	"GCONV_PATH": nameCode, "GETCONF_DIR": nameCode, "LOCPATH": nameCode,
	"NLSPATH": nameCode, "TZDIR": nameCode, "TMPDIR": nameCode,
	"NIS_PATH": nameRedirect, "HOSTALIASES": nameRedirect,
	"RESOLV_HOST_CONF": nameRedirect, "RES_OPTIONS": nameRedirect,
	"LOCALDOMAIN": nameRedirect,
	// musl.
	"MUSL_LOCPATH": nameCode,
	// OpenSSL and TLS trust.
	"OPENSSL_CONF": nameCode, "OPENSSL_CONF_INCLUDE": nameCode,
	"OPENSSL_ENGINES": nameCode, "OPENSSL_MODULES": nameCode,
	"SSLKEYLOGFILE": nameLeak,
	"SSL_CERT_FILE": nameRedirect, "SSL_CERT_DIR": nameRedirect,
	"CURL_CA_BUNDLE": nameRedirect, "REQUESTS_CA_BUNDLE": nameRedirect,
	// Python.
	"PYTHONPATH": nameCode, "PYTHONHOME": nameCode, "PYTHONSTARTUP": nameCode,
	"PYTHONUSERBASE": nameCode, "PYTHONINSPECT": nameCode, "PYTHONWARNINGS": nameCode,
	"PYTHONBREAKPOINT": nameCode, "PYTHONPLATLIBDIR": nameCode,
	"PYTHONPYCACHEPREFIX": nameCode,
	// Node.js.
	"NODE_OPTIONS": nameCode, "NODE_PATH": nameCode, "NODE_ICU_DATA": nameCode,
	"NODE_COMPILE_CACHE": nameCode, "NODE_REDIRECT_WARNINGS": nameLeak,
	"NODE_EXTRA_CA_CERTS": nameRedirect, "NODE_TLS_REJECT_UNAUTHORIZED": nameRedirect,
	"NODE_USE_ENV_PROXY": nameRedirect,
	// Ruby, RubyGems, Bundler.
	"RUBYOPT": nameCode, "RUBYLIB": nameCode, "RUBYPATH": nameCode,
	"GEM_PATH": nameCode, "GEM_HOME": nameCode, "BUNDLE_GEMFILE": nameCode,
	// Perl.
	"PERL5LIB": nameCode, "PERLLIB": nameCode, "PERL5OPT": nameCode, "PERL5DB": nameCode,
	// Java.
	"JAVA_TOOL_OPTIONS": nameCode, "_JAVA_OPTIONS": nameCode, "JDK_JAVA_OPTIONS": nameCode,
	"CLASSPATH": nameCode,
	// .NET (the profiler families are prefixes below).
	"DOTNET_STARTUP_HOOKS": nameCode, "DOTNET_ADDITIONAL_DEPS": nameCode,
	"DOTNET_SHARED_STORE": nameCode, "DOTNET_ROOT": nameCode,
	"COR_ENABLE_PROFILING": nameCode, "DOTNET_ENABLE_PROFILING": nameCode,
	"DOTNET_DbgEnableMiniDump": nameLeak, "DOTNET_DbgMiniDumpName": nameLeak,
	// Go.
	"GODEBUG": nameCode, "GOTRACEBACK": nameLeak,
	// PHP.
	"PHPRC": nameCode, "PHP_INI_SCAN_DIR": nameCode,
	// git and ssh.
	"GIT_SSH": nameCode, "GIT_SSH_COMMAND": nameCode, "GIT_ASKPASS": nameCode,
	"SSH_ASKPASS": nameCode, "GIT_EXEC_PATH": nameCode, "GIT_EDITOR": nameCode,
	"GIT_SEQUENCE_EDITOR": nameCode, "GIT_PAGER": nameCode,
	"GIT_EXTERNAL_DIFF": nameCode, "GIT_TEMPLATE_DIR": nameCode, "GIT_DIR": nameCode,
	"GIT_PROXY_COMMAND": nameCode,
	// curl.
	"CURL_HOME": nameCode,
	// less.
	"LESSOPEN": nameCode, "LESSCLOSE": nameCode,
	// Proxies: curl, Go, Python, gRPC, Node.js with NODE_USE_ENV_PROXY, ...
	"HTTP_PROXY": nameRedirect, "http_proxy": nameRedirect,
	"HTTPS_PROXY": nameRedirect, "https_proxy": nameRedirect,
	"ALL_PROXY": nameRedirect, "all_proxy": nameRedirect,
	"NO_PROXY": nameRedirect, "no_proxy": nameRedirect,
	"FTP_PROXY": nameRedirect, "ftp_proxy": nameRedirect,
	"grpc_proxy": nameRedirect, "no_grpc_proxy": nameRedirect,
	// The injector's own bundle list, for an injector the command starts.
	"SEALENV_BUNDLE": nameCode,
	// Application loaders: the module or app a framework imports.
	"FLASK_APP": nameCode, "FLASK_DEBUG": nameCode, "DJANGO_SETTINGS_MODULE": nameCode,
	"GUNICORN_CMD_ARGS": nameCode,
	// Erlang and Elixir: flags of the emulator (-eval, -s).
	"ERL_FLAGS": nameCode, "ERL_AFLAGS": nameCode, "ERL_ZFLAGS": nameCode,
	// git: TLS checks and protocols that run commands.
	"GIT_SSL_NO_VERIFY": nameRedirect, "GIT_SSL_CAINFO": nameRedirect, "GIT_SSL_CAPATH": nameRedirect,
	"GIT_ALLOW_PROTOCOL": nameCode,
	// Kubernetes clients: a kubeconfig names exec credential plugins.
	"KUBECONFIG": nameCode, "KUBE_EDITOR": nameCode, "KUBECTL_EXTERNAL_DIFF": nameCode,
	// Cloud and container CLIs: config files that name programs to run.
	"AWS_CONFIG_FILE": nameCode, "AWS_CA_BUNDLE": nameRedirect,
	"DOCKER_CONFIG": nameCode, "DOCKER_HOST": nameRedirect,
}

var refusedPrefixes = []struct {
	prefix string
	class  nameClass
}{
	{"LD_", nameCode},             // glibc and musl dynamic loaders
	{"DYLD_", nameCode},           // the macOS loader
	{"GLIBC_", nameCode},          // GLIBC_TUNABLES
	{"MALLOC_", nameCode},         // glibc malloc settings, MALLOC_TRACE
	{"BASH_FUNC_", nameCode},      // bash's exported functions
	{"CORECLR_", nameCode},        // .NET profiler (CORECLR_PROFILER_PATH...)
	{"COR_PROFILER", nameCode},    // .NET Framework-style profiler names
	{"DOTNET_PROFILER", nameCode}, // .NET 11 profiler names
	{"COMPlus_", nameCode},        // legacy spelling of every .NET runtime knob
	{"LUA_INIT", nameCode},        // LUA_INIT, LUA_INIT_5_4
	{"LUA_PATH", nameCode},        // LUA_PATH, LUA_PATH_5_4
	{"LUA_CPATH", nameCode},       // LUA_CPATH, LUA_CPATH_5_4
	{"GIT_CONFIG", nameCode},      // GIT_CONFIG_COUNT/KEY_n/VALUE_n, GIT_CONFIG_PARAMETERS...
	{"GIT_TRACE", nameLeak},       // GIT_TRACE, GIT_TRACE_CURL, ...
	{"PYTHON", nameCode},          // every CPython setting, those above and future ones (but safeNames)
	{"PERL5", nameCode},           // PERL5LIB, PERL5OPT, PERL5DB, ...
}

// safeNames are names of a refused family that only change output or
// hashing, common in .env files that sealenv adopt seals whole.
var safeNames = map[string]bool{
	"PYTHONUNBUFFERED": true, "PYTHONDONTWRITEBYTECODE": true, "PYTHONIOENCODING": true,
	"PYTHONUTF8": true, "PYTHONHASHSEED": true, "PYTHONFAULTHANDLER": true,
}

// foldedPrefixes are families that their readers match in any case: npm
// lower-cases the names it reads, and reads any setting (script-shell,
// node-options, ...) from npm_config_*. A name is refused when its upper-case form
// starts with one.
var foldedPrefixes = []struct {
	prefix string
	class  nameClass
}{
	{"NPM_CONFIG_", nameCode},
}

// isProxyName reports names that some reader takes as a proxy setting:
// Python's urllib lower-cases every variable and takes any NAME_proxy (in
// any case) as the proxy for scheme NAME, and no_proxy as the list that
// bypasses them; curl, Go and gRPC read fixed spellings of the same names.
func isProxyName(name string) bool {
	return len(name) > len("_proxy") && strings.EqualFold(name[len(name)-len("_proxy"):], "_proxy")
}

// classifyName says whether, and why, a bundle may not set name without an
// explicit allow.
func classifyName(name string) nameClass {
	if k, ok := refusedNames[name]; ok {
		return k
	}
	if safeNames[name] {
		return nameSafe
	}
	for _, p := range refusedPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.class
		}
	}
	upper := strings.ToUpper(name)
	for _, p := range foldedPrefixes {
		if strings.HasPrefix(upper, p.prefix) {
			return p.class
		}
	}
	if isProxyName(name) {
		return nameRedirect
	}
	return nameSafe
}

// NameError is why the injector refuses a bundle that sets Name: the name
// is on the list above (Class "code", "leak" or "redirect"), or it is an
// identity variable (Reserved, Class "identity"), which nothing allows.
type NameError struct {
	Name     string
	Class    string
	Reserved bool
}

func (e *NameError) Error() string {
	if e.Reserved {
		return "key " + e.Name + " is an identity variable and is never passed on"
	}
	return "key " + e.Name + " " + classOf(e.Class).reason()
}

func classOf(s string) nameClass {
	for _, k := range []nameClass{nameCode, nameLeak, nameRedirect} {
		if k.String() == s {
			return k
		}
	}
	return nameSafe
}

// RefusedName is the one check of a name a bundle sets, shared by the
// injector, sealenv's writes, check, wrap and build: nil when the injector
// passes name on, a *[NameError] when it refuses to start with it.
// allowNames (the injector's --allow-name, a policy environment's
// allow_names) allows any name of the list but an identity variable; only
// (the injector's --only, the keys a service receives) allows the names
// that redirect connections that it lists.
func RefusedName(name string, allowNames, only []string) error {
	if reservedName(name) {
		return &NameError{Name: name, Class: "identity", Reserved: true}
	}
	k := classifyName(name)
	if k == nameSafe || slices.Contains(allowNames, name) || k == nameRedirect && slices.Contains(only, name) {
		return nil
	}
	return &NameError{Name: name, Class: k.String()}
}

// refusal returns the class of name when the settings do not allow it, or
// nameSafe (see [RefusedName]).
func (c *Config) refusal(name string) nameClass {
	var ne *NameError
	if err := RefusedName(name, c.AllowNames, c.Only); errors.As(err, &ne) && !ne.Reserved {
		return classOf(ne.Class)
	}
	return nameSafe
}

// allowHint says how to allow a refused name of class k.
func (c *Config) allowHint(name string, k nameClass) string {
	if k == nameRedirect {
		return "pass " + c.mention(SettingAllowNames, name) + ", or list it among the service's keys (" + c.mention(SettingOnly, name) + "), if this is intended"
	}
	return "pass " + c.mention(SettingAllowNames, name) + " if this is intended"
}

// reservedName reports names no bundle may set, even when allowed: the
// identity variables, which the injector removes from the child.
func reservedName(name string) bool { return seal.IsIdentityEnvVar(name) }
