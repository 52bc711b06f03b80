package creds

import (
	"bufio"
	"errors"
	"io"
	"strings"

	"github.com/sealenv/sealenv/internal/lazyregexp"
)

// Credentials files read line by line, as a stream, whatever their size:
// dotenv, .npmrc, .netrc, .git-credentials, properties, .pgpass, HCL
// (*.tfvars, *.tf, .terraformrc) and the INI-like files of iniRules.

// iniRule says where an INI-like file (or TOML, or git's config) keeps its
// secrets: the keys (lower case) whose values hold one, and how.
type iniRule struct {
	keys map[string]valueForm
	// section, when set, limits the keys to the sections it accepts.
	section func(section string) bool
	// allKeys, when set, makes every key of the sections it accepts a
	// secret.
	allKeys func(section string) bool
	// sectionURL makes a URL with a password in a section's name (git's
	// [url "https://user:token@host/"]) a secret.
	sectionURL bool
}

// valueForm is how a value holds its secret.
type valueForm int

const (
	whole  valueForm = iota // the value, unquoted
	inURL                   // the password (or a long token as user name) of a URL
	header                  // the credential of an HTTP Authorization header
)

func keys(form valueForm, names ...string) map[string]valueForm {
	m := map[string]valueForm{}
	for _, n := range names {
		m[n] = form
	}
	return m
}

// iniRules: the keys each tool documents for its secrets.
var iniRules = map[Kind]iniRule{
	credPypirc: {keys: keys(whole, "password")},
	// AWS CLI and SDKs: ~/.aws/credentials and ~/.aws/config.
	credAWS: {keys: keys(whole, "aws_secret_access_key", "aws_session_token", "aws_security_token")},
	// boto (gsutil): ~/.boto.
	credBoto: {keys: keys(whole, "aws_secret_access_key", "gs_secret_access_key", "gs_oauth2_refresh_token")},
	// s3cmd: ~/.s3cfg.
	credS3cfg: {keys: keys(whole, "secret_key", "access_token")},
	// rclone: every remote's secrets; "pass" is only obscured, not
	// encrypted (rclone reveal undoes it).
	credRclone: {keys: keys(whole, "pass", "password", "password2", "secret_access_key", "session_token", "client_secret",
		"token", "key", "sas_url", "service_account_credentials", "bearer_token", "access_token", "account_key")},
	// MySQL and MariaDB option files: [client] password=...
	credMySQL: {keys: keys(whole, "password")},
	// pip: index-url = https://user:password@host/simple
	credPip: {keys: keys(inURL, "index-url", "extra-index-url", "index_url", "extra_index_url", "find-links")},
	// cargo: [registry] token, [registries.NAME] token.
	credCargo: {keys: keys(whole, "token")},
	// Poetry: [http-basic.NAME] password, [pypi-token] NAME = token.
	credPoetry: {keys: keys(whole, "password"),
		section: func(s string) bool { return strings.HasPrefix(s, "http-basic") },
		allKeys: func(s string) bool { return s == "pypi-token" }},
	// git: http.extraheader (what actions/checkout persists), a remote's
	// URL with a password, [url "https://user:token@host/"] insteadOf.
	credGitConfig: {keys: map[string]valueForm{"extraheader": header, "url": inURL, "pushurl": inURL, "proxy": inURL}, sectionURL: true},
}

var (
	npmrcAuth  = lazyregexp.New(`^"?(?:\S*:)?(_authToken|_auth|_password)"?(?:\s*=\s*|\s+)(.*)$`)
	netrcPass  = lazyregexp.New(`(?:^|\s)(password|passwd)\s+(\S+)`)
	gitCredURL = lazyregexp.New(`^[a-z][a-z0-9+.-]*://[^/:@\s]+:([^@\s]+)@`)
	propLine   = lazyregexp.New(`^([A-Za-z0-9_.\-\[\]]+)\s*[=:]\s*(.*)$`)
	iniSection = lazyregexp.New(`^\[\s*([^\]]*?)\s*\]\s*(?:[#;].*)?$`)
	iniLine    = lazyregexp.New(`^([A-Za-z0-9_.\-]+|"[^"]*")\s*[=:]\s*(.*)$`)
	hclVar     = lazyregexp.New(`^\s*variable\s+"([^"]+)"\s*\{`)
	hclAttr    = lazyregexp.New(`^\s*"?([A-Za-z0-9_.\-]+)"?\s*[=:]\s*"((?:[^"\\]|\\.)*)"\s*,?\s*(?:#.*|//.*)?$`)
	urlUser    = lazyregexp.New(`[a-zA-Z][a-zA-Z0-9+.-]*://([^/@\s:]*)(?::([^@\s/]*))?@`)
	authHeader = lazyregexp.New(`(?i)^\s*(?:authorization\s*:\s*(?:basic|bearer|token)|private-token\s*:|job-token\s*:|x-api-key\s*:)\s*(\S+)`)
)

// lineState is what a line reader remembers between lines: the INI
// section, the HCL variable block.
type lineState struct {
	section  string
	variable string
}

// lineCredentials checks a line-based credentials file. A SOPS dotenv file
// has its metadata at the end: the first secret-looking line is kept until
// the end, and dropped if metadata came.
func lineCredentials(k Kind, br *bufio.Reader, sealed map[string]bool) (*credential, error) {
	var found *credential
	var st lineState
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			t := strings.TrimSpace(string(line))
			if k == credDotenv && (strings.HasPrefix(t, "sops_mac=") || strings.HasPrefix(t, "sops_version=")) {
				_, err := io.Copy(io.Discard, br)
				if err != nil {
					return nil, err
				}
				return nil, errSealed
			}
			comment := strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") || k == credHCL && strings.HasPrefix(t, "//")
			if found == nil && !comment {
				found = credentialLine(k, t, &st, sealed)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return found, nil
			}
			return nil, err
		}
	}
}

func credentialLine(k Kind, t string, st *lineState, sealed map[string]bool) *credential {
	var key, val string
	switch k {
	case credDotenv:
		t = strings.TrimPrefix(t, "export ")
		kk, v, ok := strings.Cut(t, "=")
		kk = strings.TrimSpace(kk)
		if !ok || !(IsSecretName(kk) || sealed[kk]) {
			return nil
		}
		key, val = kk, v
	case credNpmrc:
		m := npmrcAuth().FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = m[1], m[2]
	case credNetrc:
		m := netrcPass().FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = m[1], m[2]
	case credGitCredentials:
		m := gitCredURL().FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = "password", m[1]
	case credProperties:
		m := propLine().FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		last := m[1]
		if i := strings.LastIndexAny(last, ".-"); i >= 0 {
			last = last[i+1:]
		}
		if !IsSecretName(snakeName(last)) && !IsSecretName(snakeName(m[1])) {
			return nil
		}
		key, val = m[1], m[2]
	case credPgpass:
		f := pgpassFields(t)
		if len(f) != 5 {
			return nil
		}
		key, val = f[0]+":"+f[1]+":"+f[2]+":"+f[3]+" password", f[4]
	case credHCL:
		if m := hclVar().FindStringSubmatch(t); m != nil {
			st.variable = m[1]
			return nil
		}
		if t == "}" {
			st.variable = ""
			return nil
		}
		m := hclAttr().FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = m[1], m[2]
		if key == "default" && st.variable != "" {
			key = st.variable
		}
		if !IsSecretName(snakeName(key)) || strings.Contains(val, "${") || strings.Contains(val, "%{") {
			return nil
		}
	default:
		rule, ok := iniRules[k]
		if !ok {
			return nil
		}
		key, val = iniCredential(rule, t, st)
		if key == "" {
			return nil
		}
	}
	val = unquote(strings.TrimSpace(val))
	if IsPlaceholder(val) {
		return nil
	}
	return &credential{key: key, value: val}
}

// iniCredential reads one line of an INI-like file with rule: a section
// header is remembered, a key the rule names gives its secret.
func iniCredential(rule iniRule, t string, st *lineState) (string, string) {
	if m := iniSection().FindStringSubmatch(t); m != nil {
		st.section = strings.ToLower(strings.TrimSpace(m[1]))
		if rule.sectionURL {
			if v := urlSecret(m[1]); v != "" {
				return "[" + sectionName(m[1]) + "]", v
			}
		}
		return "", ""
	}
	m := iniLine().FindStringSubmatch(t)
	if m == nil {
		return "", ""
	}
	name := strings.ToLower(strings.Trim(m[1], `"`))
	val := strings.TrimSpace(m[2])
	if i := strings.Index(val, " #"); i >= 0 && !strings.HasPrefix(val, `"`) {
		val = strings.TrimSpace(val[:i]) // a trailing comment
	}
	key := name
	if st.section != "" {
		key = "[" + sectionName(st.section) + "] " + name
	}
	if rule.allKeys != nil && rule.allKeys(st.section) {
		return key, val
	}
	form, ok := rule.keys[name]
	if !ok || rule.section != nil && !rule.section(st.section) {
		return "", ""
	}
	switch form {
	case inURL:
		val = urlSecret(unquote(val))
	case header:
		if h := authHeader().FindStringSubmatch(unquote(val)); h != nil {
			val = h[1]
		} else {
			val = ""
		}
	}
	if val == "" {
		return "", ""
	}
	return key, val
}

// sectionName is an INI section's name for a finding: a URL in it (git's
// [url "..."] and [http "..."]) loses its user information.
func sectionName(s string) string {
	return urlUser().ReplaceAllStringFunc(s, func(u string) string {
		scheme, _, _ := strings.Cut(u, "://")
		return scheme + "://"
	})
}

// urlSecret returns the password of the first URL in s with user
// information, or a user name long enough to be a token (as in
// https://TOKEN@host/), or "".
func urlSecret(s string) string {
	m := urlUser().FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	if m[2] != "" {
		return m[2]
	}
	if len(m[1]) >= 16 && !strings.Contains(m[1], ".") {
		return m[1]
	}
	return ""
}

// pgpassFields splits a .pgpass line (host:port:database:user:password)
// at its unescaped colons.
func pgpassFields(t string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '\\' && i+1 < len(t):
			i++
			cur.WriteByte(t[i])
		case t[i] == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(t[i])
		}
	}
	return append(out, cur.String())
}

// unquote drops one pair of surrounding quotes.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// snakeName turns a key written in camelCase, PascalCase, or with dots and
// dashes, into snake_case, which IsSecretName reads: "ClientSecret" is
// client_secret, "secretKeyRingFile" secret_key_ring_file (a path).
func snakeName(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '.' || c == '-' || c == ' ' || c == ':':
			b.WriteByte('_')
		case 'A' <= c && c <= 'Z':
			if i > 0 && (k[i-1] >= 'a' && k[i-1] <= 'z' || k[i-1] >= '0' && k[i-1] <= '9') {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// readLine returns the next line, cut at 64 KiB (the rest of a longer line
// is skipped: no key=value line of a secrets file is that long).
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		head := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return head, err
	}
	return line, err
}
