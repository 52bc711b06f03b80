package creds

import (
	"bufio"
	"errors"
	"io"
	"strings"

	"github.com/sealenv/sealenv/audit/internal/decode"
	"github.com/sealenv/sealenv/internal/lazyregexp"
	"github.com/sealenv/sealenv/internal/match"
)

func placeholderEnvFile(base string) bool {
	for _, s := range []string{"example", "sample", "template", "dist", "defaults"} {
		if strings.Contains(base, s) {
			return true
		}
	}
	return false
}

var secretName = lazyregexp.New(`(?i)(passw(or)?d|passwd|passphrase|secret|token|api_?key|apikey|private_?key|access_?key|credential|_creds$|^creds$|auth_?key|client_?secret|_pwd$|^pwd$|_pass$|dsn$|_key$|(^|_)pat$|(^|_)auth$|_auth_|_cookie$)`)
var notSecretName = lazyregexp.New(`(?i)(_file|_path|_dir|_id|_name|_user(name)?|_url|_host|_port|_len(gth)?|_ttl|_expir[a-z]*|_enabled|_type|public_?key)$`)

// IsSecretName reports whether a variable name says it holds a secret.
func IsSecretName(n string) bool {
	return secretName().MatchString(n) && !notSecretName().MatchString(n)
}

// IsPlaceholder reports whether a value is clearly not a secret: empty, a
// reference to another variable, a path or a well-known placeholder.
func IsPlaceholder(v string) bool {
	v = strings.Trim(strings.TrimSpace(v), `"'`)
	l := strings.ToLower(v)
	switch {
	case len(v) < 4,
		strings.HasPrefix(v, "$"), strings.Contains(v, "${"), strings.Contains(v, "{{"),
		looksLikePath(v), strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"),
		strings.Trim(l, "x*.-_") == "":
		return true
	case strings.HasPrefix(v, "%") && strings.HasSuffix(v, "%"), // %NUGET_PASSWORD% (Windows, NuGet)
		strings.HasPrefix(v, "#{") && strings.HasSuffix(v, "}"),      // #{Token} (Azure DevOps, Octopus)
		strings.HasPrefix(v, "__") && strings.HasSuffix(v, "__"),     // __TOKEN__ (replace-tokens tasks)
		strings.HasPrefix(v, "ENC[") && strings.HasSuffix(v, "]"),    // a SOPS-encrypted value
		strings.HasPrefix(l, "your") && strings.ContainsAny(l, "_-"): // your_token_here
		return true
	}
	for _, p := range []string{"changeme", "change-me", "change_me", "example", "placeholder", "todo", "replace", "dummy", "none", "null", "false", "true", "secret", "password"} {
		if l == p || strings.HasPrefix(l, p+"_") || strings.HasPrefix(l, p+"-") {
			return true
		}
	}
	return false
}

// looksLikePath reports whether v is an absolute path (a file that holds
// the secret, set at run time) rather than a secret that begins with "/",
// as one in 64 base64 keys does (AWS secret keys among them): a path has
// no "+" or "=", and no long name that mixes upper case, lower case and
// digits.
func looksLikePath(v string) bool {
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "+= \t") {
		return false
	}
	for _, seg := range strings.Split(v[1:], "/") {
		if len(seg) > 8 && randomLooking(seg) {
			return false
		}
	}
	return true
}

// randomLooking reports whether s mixes upper case, lower case and digits.
func randomLooking(s string) bool {
	var upper, lower, digit bool
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

// ErrTooLarge is returned for a YAML or JSON secrets file larger than the
// limit of what is read whole to check it.
var ErrTooLarge = errors.New("too large")

// Finding is a file that holds a plaintext credential: the rule it breaks
// ("plaintext-bundle", "plaintext-value", "kubernetes-secret",
// "infrastructure-secret", "credentials-file"), the key, a masked preview of
// the value (match.Preview; empty for a plaintext value in a sealed
// bundle) and what to do. It never holds the value.
type Finding struct {
	Rule, Name, Preview, Message string
}

// Check checks a file that may hold credentials, told by its name or,
// where the name is free, by its first bytes (see KindOf): unless it
// carries SOPS metadata, a credential with a real-looking value makes it a
// finding. The finding names the key, never
// the value. Line-based files are read as a stream, whatever their size;
// documents whole, up to limit bytes (ErrTooLarge beyond).
func Check(name string, r io.Reader, sealed map[string]bool, limit int64) (*Finding, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	k := KindOf(name, decode.TextHead(head))
	if k == None {
		return nil, nil
	}
	c, err := checkCredentials(k, br, sealed, limit)
	if err != nil || c == nil {
		return nil, err
	}
	f := &Finding{Rule: "plaintext-bundle", Name: c.key,
		Preview: match.Preview([]byte(strings.TrimSpace(c.value))),
		Message: "secrets file without SOPS metadata: seal it with sealenv seal, or keep it out of the image",
	}
	switch {
	case c.unsealed:
		f.Rule = "plaintext-value"
		f.Preview = ""
		f.Message = "a sealed bundle holds a plaintext value its metadata does not record as plain (typed in by hand?): seal it with sealenv set FILE " + c.key
	case c.k8sSecret:
		f.Rule = "kubernetes-secret"
		f.Message = "a Kubernetes Secret with its data in plaintext: seal it (sealenv seal, or a SealedSecret), or keep it out"
	case k == credTFState || k == credPulumiState || k == credHCL:
		f.Rule = "infrastructure-secret"
		f.Message = "an infrastructure state or variables file with a plaintext " + c.key + ": keep state in an encrypted remote backend, pass secret variables at run time (TF_VAR_*, a secret store), or seal the file"
	case k != credDotenv && k != credStructured:
		f.Rule = "credentials-file"
		f.Message = "a credentials file with a plaintext " + c.key + ": pass it at run time with sealenv-inject (--file for file-shaped secrets), or seal it"
	}
	return f, nil
}
