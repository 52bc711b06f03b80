package creds

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/internal/lazyregexp"
	"github.com/sealenv/sealenv/seal"
)

// Credentials files read whole (up to the plaintext-bundle check's limit)
// and parsed: JSON, YAML, TOML-less key files and XML.

// documentCredential checks the content of a file of kind k.
func documentCredential(k Kind, data []byte, sealed map[string]bool) (*credential, error) {
	if bytes.Contains(data, []byte("sops_mac")) || bytes.Contains(data, []byte("sops_version")) {
		return unsealedValue(seal.FormatYAML, data) // JSON is YAML to this reader
	}
	switch k {
	case credMaven:
		return mavenSettings(data), nil
	case credNuGet:
		return nugetConfig(data), nil
	case credDotnetXML:
		return dotnetXML(data), nil
	}
	var doc any
	var err error
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("{")) || bytes.HasPrefix(t, []byte("[")) {
		err = json.Unmarshal(data, &doc)
	} else {
		err = yaml.Unmarshal(data, &doc)
	}
	if err != nil {
		return nil, nil // not the document its name says; the rules still searched it
	}
	switch k {
	case credDockerConfig:
		return dockerAuth(doc), nil
	case credAuthJSON:
		if c := dockerAuth(doc); c != nil {
			return c, nil
		}
		return leafCredential(doc, nil), nil // Composer
	case credKubeconfig:
		return kubeconfigUser(doc), nil
	case credTFState:
		return tfstate(doc), nil
	case credPulumiState:
		return pulumiState(doc), nil
	case credDotnet:
		return dotnetJSON(doc, ""), nil
	case credAllLeaves:
		return anyLeaf(doc, ""), nil
	case credAppYAML, credLeaves:
		return leafCredential(doc, nil), nil
	}
	// credStructured: a secrets file, unless it is a sealed bundle.
	if m, ok := doc.(map[string]any); ok {
		if _, ok := m["sops"]; ok {
			return nil, nil
		}
	}
	return leafCredential(doc, sealed), nil
}

// secretParents name the maps whose every string entry is a credential:
// a Kubernetes Secret's data, Pulumi's accessTokens, Composer's tokens by
// host.
var secretParents = map[string]bool{
	"data": true, "stringData": true, "accessTokens": true,
	"github-oauth": true, "gitlab-oauth": true, "gitlab-token": true, "bearer": true, "forgejo-token": true,
}

// leafCredential returns the first string leaf of doc under a secret-named
// key (or a sealed key's name), or under one of secretParents, that is not
// a placeholder. Keys are visited in order, so that the finding is stable.
func leafCredential(doc any, sealed map[string]bool) *credential {
	if key, val := findSecretLeaf(doc, "", sealed); key != "" {
		return &credential{key: key, value: val}
	}
	return nil
}

func findSecretLeaf(v any, path string, sealed map[string]bool) (string, string) {
	parent := path
	if i := strings.LastIndexAny(path, ". "); i >= 0 {
		parent = path[i+1:]
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			c := t[k]
			p := k
			switch {
			case secretParents[parent]:
				p = path + " " + k // a host or a key under a map of secrets
			case path != "":
				p = path + "." + k
			}
			if s, ok := c.(string); ok {
				if (IsSecretName(snakeName(k)) || sealed[k] || secretParents[parent]) && !IsPlaceholder(s) {
					return p, s
				}
				continue
			}
			if k2, v2 := findSecretLeaf(c, p, sealed); k2 != "" {
				return k2, v2
			}
		}
	case []any:
		for _, c := range t {
			if k2, v2 := findSecretLeaf(c, path, sealed); k2 != "" {
				return k2, v2
			}
		}
	}
	return "", ""
}

// anyLeaf returns the first string leaf that is not a placeholder, for
// files whose every value is a credential (RubyGems' credentials).
func anyLeaf(v any, key string) *credential {
	switch t := v.(type) {
	case string:
		if !IsPlaceholder(t) {
			if key = strings.TrimPrefix(key, ":"); key == "" {
				key = "the file"
			}
			return &credential{key: key, value: t}
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if c := anyLeaf(t[k], k); c != nil {
				return c
			}
		}
	case []any:
		for _, c := range t {
			if c := anyLeaf(c, key); c != nil {
				return c
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// dockerAuth finds a registry credential in a docker config.json (or the
// older .dockercfg, or the auth.json of podman, buildah and skopeo): an
// auth, identitytoken, registrytoken or password entry.
func dockerAuth(doc any) *credential {
	m, _ := doc.(map[string]any)
	auths, ok := m["auths"].(map[string]any)
	if !ok {
		if _, composer := m["http-basic"]; composer {
			return nil
		}
		auths = m // .dockercfg: registries at the top
	}
	for _, host := range sortedKeys(auths) {
		e, _ := auths[host].(map[string]any)
		for _, k := range []string{"auth", "identitytoken", "registrytoken", "password"} {
			if s, ok := e[k].(string); ok && !IsPlaceholder(s) {
				return &credential{key: host + " " + k, value: s}
			}
		}
	}
	return nil
}

// kubeconfigUser finds a user credential in a kubeconfig: a token, a
// password, a client key, or an auth provider's tokens and secret.
func kubeconfigUser(doc any) *credential {
	m, _ := doc.(map[string]any)
	users, _ := m["users"].([]any)
	for _, u := range users {
		um, _ := u.(map[string]any)
		user, _ := um["user"].(map[string]any)
		name, _ := um["name"].(string)
		for _, k := range []string{"token", "password", "client-key-data"} {
			if s, ok := user[k].(string); ok && !IsPlaceholder(s) {
				return &credential{key: "users[" + name + "] " + k, value: s}
			}
		}
		ap, _ := user["auth-provider"].(map[string]any)
		cfg, _ := ap["config"].(map[string]any)
		for _, k := range []string{"access-token", "refresh-token", "id-token", "client-secret"} {
			if s, ok := cfg[k].(string); ok && !IsPlaceholder(s) {
				return &credential{key: "users[" + name + "] auth-provider " + k, value: s}
			}
		}
	}
	return nil
}

var (
	kindSecret = lazyregexp.New(`^kind:\s*["']?Secret["']?\s*(?:#.*)?$`)
	kindConfig = lazyregexp.New(`^kind:\s*["']?Config["']?\s*(?:#.*)?$`)
)

// kubeManifests finds a Kubernetes Secret with data, or a kubeconfig with
// a user's credential, in a YAML file: a top-level "kind: Secret" or
// "kind: Config" line is looked for as a stream; only a file that has one
// is read whole (up to limit) and parsed.
func kubeManifests(r io.Reader, limit int64) (*credential, error) {
	var head bytes.Buffer
	br := bufio.NewReaderSize(io.TeeReader(io.LimitReader(r, limit+1), &head), 64<<10)
	found := false
	for !found {
		line, err := readLine(br)
		t := bytes.TrimRight(line, " \t\r\n")
		if kindSecret().Match(t) || kindConfig().Match(t) {
			found = true
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return nil, err
			}
			break
		}
	}
	if !found {
		// Drain: the stream is searched by whoever reads it.
		_, err := io.Copy(io.Discard, r)
		return nil, err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, err
	}
	if int64(head.Len()) > limit {
		return nil, ErrTooLarge
	}
	dec := yaml.NewDecoder(&head)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, nil // the end, or not YAML after all
		}
		if _, ok := doc["sops"]; ok {
			continue
		}
		switch doc["kind"] {
		case "Config":
			if c := kubeconfigUser(doc); c != nil {
				return c, nil
			}
		case "Secret":
			for _, field := range []string{"data", "stringData"} {
				d, _ := doc[field].(map[string]any)
				for _, k := range sortedKeys(d) {
					if s, ok := d[k].(string); ok && !IsPlaceholder(s) {
						return &credential{key: field + "." + k, value: s, k8sSecret: true}, nil
					}
				}
			}
		}
	}
}

// tfstate finds a secret in a Terraform state (format 4, and the flat
// attributes of format 3): an output marked sensitive, an attribute the
// provider marks sensitive (sensitive_attributes), and any secret-named
// attribute, with a value.
func tfstate(doc any) *credential {
	m, _ := doc.(map[string]any)
	outputs, _ := m["outputs"].(map[string]any)
	for _, name := range sortedKeys(outputs) {
		o, _ := outputs[name].(map[string]any)
		if s, _ := o["sensitive"].(bool); s && present(o["value"]) {
			return &credential{key: "output " + name + " (sensitive)", value: fmt.Sprint(o["value"])}
		}
		if v, ok := o["value"].(string); ok && IsSecretName(snakeName(name)) && !IsPlaceholder(v) {
			return &credential{key: "output " + name, value: v}
		}
	}
	resources, _ := m["resources"].([]any)
	for _, r := range resources {
		rm, _ := r.(map[string]any)
		addr := fmt.Sprintf("%v.%v", rm["type"], rm["name"])
		if mod, _ := rm["module"].(string); mod != "" {
			addr = mod + "." + addr
		}
		instances, _ := rm["instances"].([]any)
		for _, in := range instances {
			im, _ := in.(map[string]any)
			attrs := im["attributes"]
			paths, _ := im["sensitive_attributes"].([]any)
			for _, p := range paths {
				steps, _ := p.([]any)
				if name, v, ok := walkPath(attrs, steps); ok && present(v) {
					if s, isStr := v.(string); !isStr || !IsPlaceholder(s) {
						return &credential{key: addr + " " + name + " (sensitive)", value: fmt.Sprint(v)}
					}
				}
			}
			if k, v := findSecretLeaf(attrs, "", nil); k != "" {
				return &credential{key: addr + " " + k, value: v}
			}
		}
	}
	// Format 3 and anything else: secret-named attributes anywhere.
	return leafCredential(doc, nil)
}

// walkPath follows a cty path of sensitive_attributes ([{"type":
// "get_attr", "value": "password"}, {"type": "index", ...}]) into attrs.
func walkPath(attrs any, steps []any) (string, any, bool) {
	var names []string
	cur := attrs
	for _, s := range steps {
		sm, _ := s.(map[string]any)
		switch sm["type"] {
		case "get_attr":
			name, _ := sm["value"].(string)
			obj, ok := cur.(map[string]any)
			if !ok {
				return "", nil, false
			}
			cur, names = obj[name], append(names, name)
		case "index":
			key := sm["value"]
			if km, ok := key.(map[string]any); ok {
				key = km["value"]
			}
			switch c := cur.(type) {
			case []any:
				f, ok := key.(float64)
				if !ok || int(f) < 0 || int(f) >= len(c) {
					return "", nil, false
				}
				cur = c[int(f)]
			case map[string]any:
				k, _ := key.(string)
				cur = c[k]
			default:
				return "", nil, false
			}
			names = append(names, fmt.Sprintf("[%v]", key))
		default:
			return "", nil, false
		}
	}
	return strings.Join(names, "."), cur, len(names) > 0
}

// present reports whether a state value holds anything.
func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(t) != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// pulumiSecretSig marks a secret value in a Pulumi checkpoint or stack
// export; with "plaintext" beside it (pulumi stack export --show-secrets)
// the secret is in clear, with "ciphertext" it is encrypted.
const pulumiSecretSig = "4dabf18193072939515e22adb298388d"

// pulumiState finds a secret in clear in a Pulumi checkpoint or stack
// export: a secret value written out in plaintext, or a secret-named input
// or output with a plain string.
func pulumiState(doc any) *credential {
	var walk func(v any, key string) *credential
	walk = func(v any, key string) *credential {
		switch t := v.(type) {
		case map[string]any:
			if _, ok := t[pulumiSecretSig]; ok {
				if p, ok := t["plaintext"].(string); ok && !IsPlaceholder(strings.Trim(p, `"`)) {
					return &credential{key: key + " (a secret in plaintext)", value: p}
				}
				return nil
			}
			for _, k := range sortedKeys(t) {
				c := t[k]
				if s, ok := c.(string); ok {
					if IsSecretName(snakeName(k)) && !IsPlaceholder(s) {
						return &credential{key: k, value: s}
					}
					continue
				}
				if r := walk(c, k); r != nil {
					return r
				}
			}
		case []any:
			for _, c := range t {
				if r := walk(c, key); r != nil {
					return r
				}
			}
		}
		return nil
	}
	return walk(doc, "")
}

// connPassword returns the password of an ADO.NET, ODBC or JDBC-style
// connection string (Password= or Pwd=), or "".
func connPassword(s string) string {
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "password", "pwd":
			if v = unquote(strings.TrimSpace(v)); !IsPlaceholder(v) {
				return v
			}
		}
	}
	return ""
}

// dotnetJSON finds, in an appsettings.json, a connection string with a
// password or a secret-named setting with a value.
func dotnetJSON(v any, key string) *credential {
	switch t := v.(type) {
	case string:
		if p := connPassword(t); p != "" {
			return &credential{key: key + " Password", value: p}
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			c := t[k]
			name := k
			if key != "" {
				name = key + ":" + k
			}
			if s, ok := c.(string); ok && IsSecretName(snakeName(k)) && !IsPlaceholder(s) && connPassword(s) == "" {
				return &credential{key: name, value: s}
			}
			if r := dotnetJSON(c, name); r != nil {
				return r
			}
		}
	case []any:
		for i, c := range t {
			if r := dotnetJSON(c, fmt.Sprintf("%s:%d", key, i)); r != nil {
				return r
			}
		}
	}
	return nil
}

// xmlElements calls fn for every element of an XML document with its path
// of element names (lower case), its attributes and its text.
func xmlElements(data []byte, fn func(path []string, attrs []xml.Attr, text string) *credential) *credential {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	var stack []string
	var attrs [][]xml.Attr
	var text []*strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or not XML after all
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, strings.ToLower(t.Name.Local))
			attrs = append(attrs, t.Copy().Attr)
			text = append(text, &strings.Builder{})
		case xml.CharData:
			if n := len(text); n > 0 {
				text[n-1].Write(t)
			}
		case xml.EndElement:
			n := len(stack)
			if n == 0 {
				continue
			}
			if c := fn(stack, attrs[n-1], strings.TrimSpace(text[n-1].String())); c != nil {
				return c
			}
			stack, attrs, text = stack[:n-1], attrs[:n-1], text[:n-1]
		}
	}
}

func attr(attrs []xml.Attr, name string) string {
	for _, a := range attrs {
		if strings.EqualFold(a.Name.Local, name) {
			return a.Value
		}
	}
	return ""
}

// mavenSettings finds a server's or a proxy's password or passphrase in a
// Maven settings.xml, or the master password of settings-security.xml. A
// value in braces is encrypted with the master password ({...}); a
// ${env.X} is a reference.
func mavenSettings(data []byte) *credential {
	return xmlElements(data, func(path []string, _ []xml.Attr, text string) *credential {
		el := path[len(path)-1]
		parent := ""
		if len(path) > 1 {
			parent = path[len(path)-2]
		}
		encrypted := strings.HasPrefix(text, "{") && strings.HasSuffix(text, "}")
		switch {
		case (el == "password" || el == "passphrase") && (parent == "server" || parent == "proxy") && !encrypted && !IsPlaceholder(text):
			return &credential{key: parent + " " + el, value: text}
		case el == "master" && parent == "settingssecurity" && !IsPlaceholder(text):
			return &credential{key: "master", value: text}
		}
		return nil
	})
}

// nugetConfig finds a ClearTextPassword in a NuGet.Config's
// packageSourceCredentials (a Password there is encrypted with the
// Windows user's key).
func nugetConfig(data []byte) *credential {
	return xmlElements(data, func(path []string, attrs []xml.Attr, _ string) *credential {
		if len(path) < 3 || path[len(path)-1] != "add" || path[len(path)-3] != "packagesourcecredentials" {
			return nil
		}
		if strings.EqualFold(attr(attrs, "key"), "ClearTextPassword") {
			if v := attr(attrs, "value"); !IsPlaceholder(v) {
				return &credential{key: path[len(path)-2] + " ClearTextPassword", value: v}
			}
		}
		return nil
	})
}

// dotnetXML finds a connection string with a password, or a secret-named
// appSettings entry with a value, in a web.config or app.config.
func dotnetXML(data []byte) *credential {
	return xmlElements(data, func(path []string, attrs []xml.Attr, _ string) *credential {
		if path[len(path)-1] != "add" || len(path) < 2 {
			return nil
		}
		switch path[len(path)-2] {
		case "connectionstrings":
			if p := connPassword(attr(attrs, "connectionString")); p != "" {
				return &credential{key: "connectionStrings " + attr(attrs, "name") + " Password", value: p}
			}
		case "appsettings":
			k, v := attr(attrs, "key"), attr(attrs, "value")
			if IsSecretName(snakeName(k)) && !IsPlaceholder(v) {
				return &credential{key: "appSettings " + k, value: v}
			}
		}
		return nil
	})
}
