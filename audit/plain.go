package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// looksLikeSecretsFile reports whether a file's name says it holds secrets:
// .env, *.env, .env.*, and YAML or JSON files named like secrets or
// credentials.
func looksLikeSecretsFile(name string) bool {
	if i := strings.LastIndex(name, "!/"); i >= 0 {
		name = name[i+2:]
	}
	base := strings.ToLower(path.Base(name))
	switch {
	case base == ".env", strings.HasSuffix(base, ".env"), strings.HasPrefix(base, ".env."):
		return !placeholderEnvFile(base)
	}
	ext := path.Ext(base)
	if ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return false
	}
	stem := strings.TrimSuffix(base, ext)
	return strings.Contains(stem, "secret") || strings.Contains(stem, "credential") || stem == "env" || stem == ".env"
}

func placeholderEnvFile(base string) bool {
	for _, s := range []string{"example", "sample", "template", "dist", "defaults"} {
		if strings.Contains(base, s) {
			return true
		}
	}
	return false
}

var secretName = regexp.MustCompile(`(?i)(passw(or)?d|passwd|secret|token|api_?key|apikey|private_?key|access_?key|credential|auth_?key|client_?secret|_pwd$|^pwd$|_pass$|dsn$|_key$)`)
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

// plaintextBundle checks a file named like a secrets file: unless it carries
// SOPS metadata, a secret-named key with a real-looking value makes it a
// finding. The finding names the key, never the value.
func plaintextBundle(name string, data []byte, sealed map[string]bool) *Finding {
	if bytes.Contains(data, []byte("sops_mac")) || bytes.Contains(data, []byte("sops_version")) {
		return nil
	}
	var key, val string
	base := strings.ToLower(path.Base(name))
	switch ext := path.Ext(base); {
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
		var doc any
		var err error
		if ext == ".json" {
			err = json.Unmarshal(data, &doc)
		} else {
			err = yaml.Unmarshal(data, &doc)
		}
		if err != nil {
			return nil
		}
		if m, ok := doc.(map[string]any); ok {
			if _, ok := m["sops"]; ok {
				return nil
			}
		}
		key, val = findSecretLeaf(doc, "", sealed)
	default:
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64<<10), maxBundleCheck)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			line = strings.TrimPrefix(line, "export ")
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			k = strings.TrimSpace(k)
			if (isSecretName(k) || sealed[k]) && !isPlaceholder(v) {
				key, val = k, v
				break
			}
		}
	}
	if key == "" {
		return nil
	}
	return &Finding{
		Kind: kindPlain, Rule: "plaintext-bundle", Severity: "high", Name: key,
		Preview: mask([]byte(strings.TrimSpace(val))),
		Message: "secrets file without SOPS metadata: seal it with sealenv seal, or keep it out of the image",
	}
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
