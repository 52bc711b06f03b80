package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

// errTooLarge is returned for a YAML or JSON secrets file larger than the
// limit of what is read whole to check it.
var errTooLarge = errors.New("too large")

// plaintextBundle checks a file named like a secrets file: unless it carries
// SOPS metadata, a secret-named key with a real-looking value makes it a
// finding. The finding names the key, never the value. A dotenv file is
// read line by line, whatever its size; a YAML or JSON file is read whole,
// up to limit bytes (errTooLarge beyond).
func plaintextBundle(name string, r io.Reader, sealed map[string]bool, limit int64) (*Finding, error) {
	var key, val string
	base := strings.ToLower(path.Base(name))
	switch ext := path.Ext(base); {
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > limit {
			return nil, errTooLarge
		}
		if bytes.Contains(data, []byte("sops_mac")) || bytes.Contains(data, []byte("sops_version")) {
			return nil, nil
		}
		var doc any
		if ext == ".json" {
			err = json.Unmarshal(data, &doc)
		} else {
			err = yaml.Unmarshal(data, &doc)
		}
		if err != nil {
			return nil, nil
		}
		if m, ok := doc.(map[string]any); ok {
			if _, ok := m["sops"]; ok {
				return nil, nil
			}
		}
		key, val = findSecretLeaf(doc, "", sealed)
	default:
		// A SOPS dotenv file has its metadata at the end: remember the
		// first secret-looking line, and drop it if metadata follows.
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := readLine(br)
			if len(line) > 0 {
				t := strings.TrimSpace(string(line))
				if strings.HasPrefix(t, "sops_mac=") || strings.HasPrefix(t, "sops_version=") {
					return nil, nil
				}
				t = strings.TrimPrefix(t, "export ")
				if k, v, ok := strings.Cut(t, "="); ok && key == "" && !strings.HasPrefix(t, "#") {
					k = strings.TrimSpace(k)
					if (isSecretName(k) || sealed[k]) && !isPlaceholder(v) {
						key, val = k, v
					}
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
		}
	}
	if key == "" {
		return nil, nil
	}
	return &Finding{
		Kind: kindPlain, Rule: "plaintext-bundle", Severity: "high", Name: key,
		Preview: mask([]byte(strings.TrimSpace(val))),
		Message: "secrets file without SOPS metadata: seal it with sealenv seal, or keep it out of the image",
	}, nil
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
