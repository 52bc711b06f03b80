package inject

import (
	"strings"

	"github.com/sealenv/sealenv/seal"
)

// Names a bundle may not set unless the operator allows them with
// --allow-name: each changes what code the process loads or runs, or whom it
// trusts, before the application reads a single secret. A tampered or
// mistaken bundle must not be able to hijack the loader.
var dangerousNames = map[string]bool{
	"PATH": true, "IFS": true, "ENV": true, "BASH_ENV": true, "SHELLOPTS": true,
	"BASHOPTS": true, "PS4": true, "PROMPT_COMMAND": true, "CDPATH": true,
	"HOME": true, "SHELL": true, "TMPDIR": true,
	"NODE_OPTIONS": true, "NODE_PATH": true, "NODE_EXTRA_CA_CERTS": true,
	"PYTHONPATH": true, "PYTHONHOME": true, "PYTHONSTARTUP": true,
	"PYTHONUSERBASE": true, "PYTHONINSPECT": true, "PYTHONWARNINGS": true,
	"PERL5LIB": true, "PERLLIB": true, "PERL5OPT": true,
	"RUBYLIB": true, "RUBYOPT": true,
	"JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true,
	"CLASSPATH":  true,
	"GCONV_PATH": true, "LOCPATH": true, "NLSPATH": true, "HOSTALIASES": true,
	"RESOLV_HOST_CONF": true, "GETCONF_DIR": true,
	"PHPRC": true, "PHP_INI_SCAN_DIR": true,
	"GODEBUG": true, "GOTRACEBACK": true,
	"SSL_CERT_FILE": true, "SSL_CERT_DIR": true, "REQUESTS_CA_BUNDLE": true,
	"CURL_CA_BUNDLE": true,
	"SEALENV_BUNDLE": true,
}

// dangerousPrefixes are refused like dangerousNames: the dynamic loaders of
// glibc, musl and macOS, glibc tunables and malloc hooks, and bash's exported
// functions.
var dangerousPrefixes = []string{"LD_", "DYLD_", "GLIBC_", "MALLOC_", "BASH_FUNC_"}

// Dangerous reports whether a bundle setting name could change what the
// process loads or executes. Such names need an explicit allow.
func Dangerous(name string) bool {
	if dangerousNames[name] {
		return true
	}
	for _, p := range dangerousPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// reservedName reports names no bundle may set, even when allowed: the
// identity variables, which the injector removes from the child.
func reservedName(name string) bool {
	for _, v := range seal.IdentityEnvVars {
		if name == v {
			return true
		}
	}
	return false
}
