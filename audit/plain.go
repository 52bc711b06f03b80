package audit

import (
	"bufio"
	"errors"
	"io"
	"regexp"
	"strings"
)

func placeholderEnvFile(base string) bool {
	for _, s := range []string{"example", "sample", "template", "dist", "defaults"} {
		if strings.Contains(base, s) {
			return true
		}
	}
	return false
}

var secretName = regexp.MustCompile(`(?i)(passw(or)?d|passwd|passphrase|secret|token|api_?key|apikey|private_?key|access_?key|credential|_creds$|^creds$|auth_?key|client_?secret|_pwd$|^pwd$|_pass$|dsn$|_key$|(^|_)pat$|(^|_)auth$|_auth_|_cookie$)`)
var notSecretName = regexp.MustCompile(`(?i)(_file|_path|_dir|_id|_name|_user(name)?|_url|_host|_port|_len(gth)?|_ttl|_expir[a-z]*|_enabled|_type|public_?key)$`)

// isSecretName reports whether a variable name says it holds a secret.
func isSecretName(n string) bool {
	return secretName.MatchString(n) && !notSecretName.MatchString(n)
}

// isPlaceholder reports whether a value is clearly not a secret: empty, a
// reference to another variable, a path or a well-known placeholder.
func isPlaceholder(v string) bool {
	v = strings.Trim(strings.TrimSpace(v), `"'`)
	l := strings.ToLower(v)
	switch {
	case len(v) < 4,
		strings.HasPrefix(v, "$"), strings.Contains(v, "${"), strings.Contains(v, "{{"),
		strings.HasPrefix(v, "/"), strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"),
		strings.Trim(l, "x*.-_") == "":
		return true
	}
	for _, p := range []string{"changeme", "change-me", "change_me", "example", "placeholder", "todo", "replace", "dummy", "none", "null", "false", "true", "secret", "password"} {
		if l == p || strings.HasPrefix(l, p+"_") || strings.HasPrefix(l, p+"-") {
			return true
		}
	}
	return false
}

// errTooLarge is returned for a YAML or JSON secrets file larger than the
// limit of what is read whole to check it.
var errTooLarge = errors.New("too large")

// plaintextBundle checks a file whose name says it holds credentials (see
// credentialKind): unless it carries SOPS metadata, a secret-named key with
// a real-looking value makes it a finding. The finding names the key, never
// the value. Line-based files are read as a stream, whatever their size;
// YAML and JSON files whole, up to limit bytes (errTooLarge beyond).
func plaintextBundle(name string, r io.Reader, sealed map[string]bool, limit int64) (*Finding, error) {
	k := credentialKind(name)
	if k == credNone {
		return nil, nil
	}
	c, err := checkCredentials(k, r, sealed, limit)
	if err != nil || c == nil {
		return nil, err
	}
	f := &Finding{Kind: kindPlain, Rule: "plaintext-bundle", Severity: "high", Name: c.key,
		Preview: mask([]byte(strings.TrimSpace(c.value))),
		Message: "secrets file without SOPS metadata: seal it with sealenv seal, or keep it out of the image",
	}
	switch {
	case c.unsealed:
		f.Rule = "plaintext-value"
		f.Preview = ""
		f.Message = "a sealed bundle holds a plaintext value its metadata does not record as plain (typed in by hand?): seal it with sealenv set FILE " + c.key
	case k == credYAML:
		f.Rule = "kubernetes-secret"
		f.Message = "a Kubernetes Secret with its data in plaintext: seal it (sealenv seal, or a SealedSecret), or keep it out"
	case k != credDotenv && k != credStructured:
		f.Rule = "credentials-file"
		f.Message = "a credentials file with a plaintext " + c.key + ": pass it at run time with sealenv-inject (--file for file-shaped secrets), or seal it"
	}
	return f, nil
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

// findSecretLeaf finds the first string leaf under a secret-named key
// (Kubernetes Secret manifests: every entry under data or stringData).
func findSecretLeaf(v any, parent string, sealed map[string]bool) (string, string) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			if s, ok := c.(string); ok {
				if (isSecretName(k) || sealed[k] || parent == "data" || parent == "stringData") && !isPlaceholder(s) {
					return k, s
				}
				continue
			}
			if k2, v2 := findSecretLeaf(c, k, sealed); k2 != "" {
				return k2, v2
			}
		}
	case []any:
		for _, c := range t {
			if k2, v2 := findSecretLeaf(c, parent, sealed); k2 != "" {
				return k2, v2
			}
		}
	}
	return "", ""
}
