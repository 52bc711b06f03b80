package audit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/sealenv/sealenv/seal"
)

// credKind is how a file holds credentials, told by its name (and for
// YAML, by a Kubernetes Secret in it).
type credKind int

const (
	credNone           credKind = iota
	credDotenv                  // .env, *.env, .env.*, .envrc: KEY=value lines
	credStructured              // YAML or JSON named like secrets or credentials
	credNpmrc                   // .npmrc: _authToken, _auth, _password
	credINI                     // .pypirc: password = ...
	credNetrc                   // .netrc, _netrc: password TOKEN
	credGitCredentials          // .git-credentials: https://user:token@host
	credDockerConfig            // .docker/config.json, .dockerconfigjson, .dockercfg
	credKubeconfig              // .kube/config, kubeconfig, *.kubeconfig
	credProperties              // application*.properties: a.b.password=...
	credAppYAML                 // application*.yml: spring: datasource: password: ...
	credYAML                    // any other YAML: a Kubernetes Secret with data
)

// credentialKind tells from a file's name (the innermost name of a path in
// an archive) whether and how it may hold plaintext credentials.
func credentialKind(name string) credKind {
	if i := strings.LastIndex(name, "!/"); i >= 0 {
		name = name[i+2:]
	}
	base := strings.ToLower(path.Base(name))
	dir := strings.ToLower(path.Dir(name))
	ext := path.Ext(base)
	switch {
	case base == ".envrc":
		return credDotenv
	case base == ".env", strings.HasSuffix(base, ".env"), strings.HasPrefix(base, ".env."):
		if placeholderEnvFile(base) {
			return credNone
		}
		return credDotenv
	case base == ".npmrc" || base == "npmrc":
		return credNpmrc
	case base == ".pypirc":
		return credINI
	case base == ".netrc" || base == "_netrc":
		return credNetrc
	case base == ".git-credentials":
		return credGitCredentials
	case base == ".dockerconfigjson" || base == ".dockercfg" || base == "config.json" && (dir == ".docker" || strings.HasSuffix(dir, "/.docker")):
		return credDockerConfig
	case base == "kubeconfig" || ext == ".kubeconfig" || strings.HasPrefix(base, "kubeconfig.") || base == "config" && (dir == ".kube" || strings.HasSuffix(dir, "/.kube")):
		return credKubeconfig
	case ext == ".properties" && strings.HasPrefix(base, "application"):
		return credProperties
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
		stem := strings.TrimSuffix(base, ext)
		switch {
		case strings.Contains(stem, "secret") || strings.Contains(stem, "credential") || stem == "env" || stem == ".env":
			return credStructured
		case ext != ".json" && strings.HasPrefix(stem, "application"):
			return credAppYAML
		case ext != ".json":
			return credYAML
		}
	}
	return credNone
}

// looksLikeSecretsFile reports whether a file's name says it is a secrets
// file: one that holds nothing but secrets (.env, secrets.yaml, .npmrc...),
// as opposed to a file that may hold some (a kubeconfig, any YAML).
func looksLikeSecretsFile(name string) bool {
	switch credentialKind(name) {
	case credDotenv, credStructured:
		return true
	}
	return false
}

// credential is what a credentials check found: the key and its value, or
// (unsealed) the key of a plaintext value in a sealed bundle.
type credential struct {
	key, value string
	unsealed   bool
}

// checkCredentials reads a file of kind k from r and returns the first
// plaintext credential in it. Line-based kinds are read as a stream,
// whatever their size; the others whole, up to limit bytes (errTooLarge
// beyond). A file with SOPS metadata is sealed, not plaintext.
func checkCredentials(k credKind, r io.Reader, sealed map[string]bool, limit int64) (*credential, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	src := io.Reader(br)
	if u := utf16Source(br); u != nil {
		src = u // UTF-16 text, as Windows editors save it
	}
	switch k {
	case credDotenv:
		// A sealed dotenv bundle has its metadata at the end: keep what
		// was read (up to limit) to check it for a hand-typed value.
		var kept limitedBuffer
		kept.limit = limit
		c, err := lineCredentials(k, bufio.NewReaderSize(io.TeeReader(src, &kept), 64<<10), sealed)
		if errors.Is(err, errSealed) {
			if kept.over {
				return nil, errTooLarge
			}
			return unsealedValue(seal.FormatDotenv, kept.b)
		}
		return c, err
	case credNpmrc, credINI, credNetrc, credGitCredentials, credProperties:
		return lineCredentials(k, bufio.NewReaderSize(src, 64<<10), sealed)
	case credYAML:
		return kubeSecret(src, limit)
	}
	data, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	if bytes.Contains(data, []byte("sops_mac")) || bytes.Contains(data, []byte("sops_version")) {
		return unsealedValue(seal.FormatYAML, data) // JSON is YAML to this reader
	}
	var doc any
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		err = json.Unmarshal(data, &doc)
	} else {
		err = yaml.Unmarshal(data, &doc)
	}
	if err != nil {
		return nil, nil
	}
	switch k {
	case credDockerConfig:
		return dockerAuth(doc), nil
	case credKubeconfig:
		return kubeconfigUser(doc), nil
	case credAppYAML:
		if key, val := findSecretLeaf(doc, "", nil); key != "" {
			return &credential{key: key, value: val}, nil
		}
		return nil, nil
	}
	if m, ok := doc.(map[string]any); ok {
		if _, ok := m["sops"]; ok {
			return nil, nil
		}
	}
	if key, val := findSecretLeaf(doc, "", sealed); key != "" {
		return &credential{key: key, value: val}, nil
	}
	return nil, nil
}

var (
	npmrcAuth  = regexp.MustCompile(`^(?:\S*:)?(_authToken|_auth|_password)\s*=\s*(.*)$`)
	iniPass    = regexp.MustCompile(`(?i)^(password)\s*[=:]\s*(.*)$`)
	netrcPass  = regexp.MustCompile(`(?:^|\s)(password|passwd)\s+(\S+)`)
	gitCredURL = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://[^/:@\s]+:([^@\s]+)@`)
	propLine   = regexp.MustCompile(`^([A-Za-z0-9_.\-\[\]]+)\s*[=:]\s*(.*)$`)
)

// errSealed says a dotenv file turned out to carry SOPS metadata.
var errSealed = errors.New("sealed")

// unsealedValue checks a sealed bundle for a value that is neither
// encrypted nor recorded as intentionally plain (a line typed into the
// file by hand). A file that does not parse as a bundle is left to the
// tools that read bundles.
func unsealedValue(f seal.Format, data []byte) (*credential, error) {
	names, err := seal.UnsealedValues(f, data)
	if err != nil || len(names) == 0 {
		return nil, nil
	}
	return &credential{key: names[0], unsealed: true}, nil
}

// limitedBuffer keeps the first limit bytes written to it.
type limitedBuffer struct {
	b     []byte
	limit int64
	over  bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if int64(len(l.b)+len(p)) > l.limit {
		l.over = true
		return len(p), nil
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

// lineCredentials checks a line-based credentials file. A SOPS dotenv file
// has its metadata at the end: the first secret-looking line is kept until
// the end, and dropped if metadata came.
func lineCredentials(k credKind, br *bufio.Reader, sealed map[string]bool) (*credential, error) {
	var found *credential
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
			if found == nil && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, ";") {
				found = credentialLine(k, t, sealed)
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

func credentialLine(k credKind, t string, sealed map[string]bool) *credential {
	var key, val string
	switch k {
	case credDotenv:
		t = strings.TrimPrefix(t, "export ")
		kk, v, ok := strings.Cut(t, "=")
		kk = strings.TrimSpace(kk)
		if !ok || !(isSecretName(kk) || sealed[kk]) {
			return nil
		}
		key, val = kk, v
	case credNpmrc:
		m := npmrcAuth.FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = m[1], m[2]
	case credINI:
		m := iniPass.FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = m[1], m[2]
	case credNetrc:
		m := netrcPass.FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = m[1], m[2]
	case credGitCredentials:
		m := gitCredURL.FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		key, val = "password", m[1]
	case credProperties:
		m := propLine.FindStringSubmatch(t)
		if m == nil {
			return nil
		}
		last := m[1]
		if i := strings.LastIndexAny(last, ".-"); i >= 0 {
			last = last[i+1:]
		}
		if !isSecretName(last) && !isSecretName(strings.ReplaceAll(m[1], ".", "_")) {
			return nil
		}
		key, val = m[1], m[2]
	}
	val = strings.TrimSpace(val)
	if isPlaceholder(val) {
		return nil
	}
	return &credential{key: key, value: val}
}

// dockerAuth finds a registry credential in a docker config.json (or the
// older .dockercfg): an auth, identitytoken or registrytoken entry.
func dockerAuth(doc any) *credential {
	m, _ := doc.(map[string]any)
	auths, ok := m["auths"].(map[string]any)
	if !ok {
		auths = m // .dockercfg: registries at the top
	}
	for host, v := range auths {
		e, _ := v.(map[string]any)
		for _, k := range []string{"auth", "identitytoken", "registrytoken", "password"} {
			if s, ok := e[k].(string); ok && !isPlaceholder(s) {
				return &credential{key: host + " " + k, value: s}
			}
		}
	}
	return nil
}

// kubeconfigUser finds a user credential in a kubeconfig: a token, a
// password or a client key.
func kubeconfigUser(doc any) *credential {
	m, _ := doc.(map[string]any)
	users, _ := m["users"].([]any)
	for _, u := range users {
		um, _ := u.(map[string]any)
		user, _ := um["user"].(map[string]any)
		for _, k := range []string{"token", "password", "client-key-data"} {
			if s, ok := user[k].(string); ok && !isPlaceholder(s) {
				return &credential{key: k, value: s}
			}
		}
	}
	return nil
}

var kindSecret = regexp.MustCompile(`^kind:\s*["']?Secret["']?\s*$`)

// kubeSecret finds a Kubernetes Secret with data in a YAML file: a line
// "kind: Secret" is looked for as a stream; only a file that has one is
// read whole (up to limit) and parsed.
func kubeSecret(r io.Reader, limit int64) (*credential, error) {
	var head bytes.Buffer
	br := bufio.NewReaderSize(io.TeeReader(io.LimitReader(r, limit+1), &head), 64<<10)
	found := false
	for !found {
		line, err := readLine(br)
		if kindSecret.Match(bytes.TrimSpace(line)) {
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
		return nil, errTooLarge
	}
	dec := yaml.NewDecoder(&head)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, nil // the end, or not YAML after all
		}
		if doc["kind"] != "Secret" {
			continue
		}
		if _, ok := doc["sops"]; ok {
			continue
		}
		for _, field := range []string{"data", "stringData"} {
			d, _ := doc[field].(map[string]any)
			for k, v := range d {
				if s, ok := v.(string); ok && !isPlaceholder(s) {
					return &credential{key: field + "." + k, value: s}, nil
				}
			}
		}
	}
}

// utf16Source returns a UTF-8 reader over br when br starts like UTF-16
// text (a byte-order mark, or a NUL in every other of the first bytes),
// else nil.
func utf16Source(br *bufio.Reader) io.Reader {
	head, _ := br.Peek(64)
	var order binary.ByteOrder
	switch {
	case len(head) >= 2 && head[0] == 0xff && head[1] == 0xfe:
		order = binary.LittleEndian
		br.Discard(2)
	case len(head) >= 2 && head[0] == 0xfe && head[1] == 0xff:
		order = binary.BigEndian
		br.Discard(2)
	case len(head) >= 8 && head[1] == 0 && head[3] == 0 && head[5] == 0 && head[7] == 0 && head[0] != 0:
		order = binary.LittleEndian
	case len(head) >= 8 && head[0] == 0 && head[2] == 0 && head[4] == 0 && head[6] == 0 && head[1] != 0:
		order = binary.BigEndian
	default:
		return nil
	}
	return &utf16Reader{r: br, order: order}
}

type utf16Reader struct {
	r     *bufio.Reader
	order binary.ByteOrder
	out   []byte
	hi    uint16 // a pending high surrogate
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		var b [2]byte
		if _, err := io.ReadFull(u.r, b[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return 0, err
		}
		c := u.order.Uint16(b[:])
		var r rune
		switch {
		case utf16.IsSurrogate(rune(c)) && c < 0xdc00:
			u.hi = c
			continue
		case utf16.IsSurrogate(rune(c)):
			r = utf16.DecodeRune(rune(u.hi), rune(c))
			u.hi = 0
		default:
			r = rune(c)
		}
		u.out = utf8.AppendRune(u.out[:0], r)
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}
