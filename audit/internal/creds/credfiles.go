package creds

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/sealenv/sealenv/audit/internal/decode"
	"github.com/sealenv/sealenv/internal/lazyregexp"
	"github.com/sealenv/sealenv/seal"
)

// Kind is how a file holds credentials: told by the name and the place
// the tool that writes it uses (KindOfName), or, where the name is
// free, by its first bytes (KindOf). docs/audit.md lists every
// file with the tool and the documentation it comes from.
type Kind int

// None is a file that does not hold credentials by its name or its first
// bytes; the other kinds are the readers' own.
const (
	None               Kind = iota
	credDotenv              // .env, *.env, .env.*, .envrc: KEY=value lines
	credStructured          // YAML or JSON named like secrets or credentials
	credNpmrc               // .npmrc, .yarnrc (yarn 1): _authToken, _auth, _password
	credNetrc               // .netrc, _netrc: password TOKEN
	credGitCredentials      // .git-credentials: https://user:token@host
	credDockerConfig        // docker, podman, buildah, skopeo, helm registry logins
	credKubeconfig          // .kube/config, kubeconfig, *.kubeconfig, admin.conf
	credProperties          // application*.properties, gradle.properties: a.b.password=...
	credAppYAML             // application*.yml: spring: datasource: password: ...
	credYAML                // any other YAML: a Kubernetes Secret with data, a kubeconfig
	credLeaves              // JSON, YAML or TOML whose secret-named leaves are credentials
	credAllLeaves           // YAML whose every value is a credential (.gem/credentials)
	credAuthJSON            // auth.json: podman's registry logins or Composer's
	credPgpass              // .pgpass: host:port:db:user:password
	credHCL                 // *.tfvars, *.tf, *.hcl, .terraformrc: name = "value"
	credTFState             // terraform.tfstate and its backups
	credPulumiState         // Pulumi checkpoints and stack exports
	credMaven               // Maven settings.xml, settings-security.xml
	credNuGet               // NuGet.Config: ClearTextPassword
	credDotnet              // appsettings*.json: connection strings, secret-named keys
	credDotnetXML           // web.config, app.config: connectionStrings, appSettings
	credStore               // a file that is a credential as a whole (.vault-token)

	// INI-like files, each with the keys its tool keeps secrets in (see
	// iniRules).
	credPypirc
	credAWS
	credBoto
	credS3cfg
	credRclone
	credMySQL
	credPip
	credCargo
	credPoetry
	credGitConfig
)

// compressedSuffixes are dropped from a name before it is matched: the
// content of terraform.tfstate.gz is a terraform.tfstate.
var compressedSuffixes = []string{".gz", ".bz2", ".xz", ".zst", ".br", ".lzma", ".z"}

// KindOfName tells from a file's name (the innermost name of a path in
// an archive) whether and how it may hold plaintext credentials.
func KindOfName(name string) Kind {
	if i := strings.LastIndex(name, "!/"); i >= 0 {
		name = name[i+2:]
	}
	name = strings.ToLower(name)
	for _, s := range compressedSuffixes {
		if strings.HasSuffix(name, s) && len(path.Base(name)) > len(s) {
			name = strings.TrimSuffix(name, s)
			break
		}
	}
	base := path.Base(name)
	dir := path.Dir(name)
	ext := path.Ext(base)
	in := func(d string) bool { return dir == d || strings.HasSuffix(dir, "/"+d) }
	under := func(d string) bool {
		return in(d) || strings.Contains(dir+"/", "/"+d+"/") || strings.HasPrefix(dir+"/", d+"/")
	}
	switch {
	case base == ".envrc":
		return credDotenv
	case base == ".env", strings.HasSuffix(base, ".env"), strings.HasPrefix(base, ".env."):
		if placeholderEnvFile(base) {
			return None
		}
		return credDotenv
	case base == ".npmrc" || base == "npmrc" || base == ".yarnrc":
		return credNpmrc
	case base == ".yarnrc.yml" || base == ".yarnrc.yaml":
		return credLeaves
	case base == ".pypirc":
		return credPypirc
	case base == ".netrc" || base == "_netrc":
		return credNetrc
	case base == ".git-credentials" || base == "credentials" && in(".config/git"):
		return credGitCredentials
	case base == "config" && (strings.HasSuffix(dir, ".git") || in(".config/git")) || base == ".gitconfig":
		return credGitConfig
	case base == ".dockerconfigjson" || base == ".dockercfg" ||
		base == "config.json" && (in(".docker") || in("helm/registry")):
		return credDockerConfig
	case base == "auth.json":
		return credAuthJSON // podman, buildah, skopeo (containers/), or Composer
	case base == "kubeconfig" || ext == ".kubeconfig" || strings.HasPrefix(base, "kubeconfig.") ||
		base == "config" && in(".kube") ||
		in("kubernetes") && (base == "admin.conf" || base == "kubelet.conf" || base == "controller-manager.conf" || base == "scheduler.conf" || base == "super-admin.conf") ||
		base == "k3s.yaml" || base == "rke2.yaml":
		return credKubeconfig
	case base == "credentials" && in(".aws") || base == "config" && in(".aws"):
		return credAWS
	case ext == ".json" && (in(".aws/sso/cache") || in(".aws/cli/cache")):
		return credLeaves
	case base == ".boto":
		return credBoto
	case base == ".s3cfg":
		return credS3cfg
	case base == "rclone.conf":
		return credRclone
	case base == ".my.cnf" || base == "my.cnf" || base == "my.ini":
		return credMySQL
	case base == ".mylogin.cnf" || base == ".vault-token":
		return credStore
	case base == "pip.conf" || base == "pip.ini":
		return credPip
	case (base == "credentials.toml" || base == "credentials") && in(".cargo"):
		return credCargo
	case (base == "auth.toml" || base == "config.toml") && in("pypoetry"):
		return credPoetry
	case base == "credentials" && in(".gem"):
		return credAllLeaves
	case base == "settings.xml" && (in(".m2") || in("conf")) || base == "settings-security.xml":
		return credMaven
	case base == "nuget.config":
		return credNuGet
	case base == ".pgpass" || base == "pgpass.conf":
		return credPgpass
	case base == "application_default_credentials.json" || base == "adc.json" && under("legacy_credentials"):
		return credLeaves // gcloud
	case base == "msal_token_cache.json" || base == "accesstokens.json" && in(".azure") || base == "service_principal_entries.json":
		return credLeaves // Azure CLI
	case base == "credentials.json" && in(".pulumi") || base == "credentials.tfrc.json" || base == "hosts.yml" && in("gh") ||
		base == "repositories.yaml" && in("helm") || ext == ".json" && strings.HasSuffix(base, ".tfvars.json"):
		return credLeaves
	case ext == ".tfstate" || strings.HasSuffix(base, ".tfstate.backup"):
		return credTFState
	case ext == ".json" && under(".pulumi/stacks") || strings.HasSuffix(base, ".json.bak") && under(".pulumi/stacks"):
		return credPulumiState
	case ext == ".tfvars" || ext == ".tf" || ext == ".hcl" || base == ".terraformrc" || base == "terraform.rc":
		return credHCL
	case ext == ".json" && strings.HasPrefix(base, "appsettings"):
		return credDotnet
	case base == "web.config" || base == "app.config" || strings.HasSuffix(base, ".exe.config"):
		return credDotnetXML
	case ext == ".properties" && (strings.HasPrefix(base, "application") || strings.HasPrefix(base, "bootstrap") ||
		base == "gradle.properties" || base == "local.properties" || base == "jdbc.properties"):
		return credProperties
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
		stem := strings.TrimSuffix(base, ext)
		switch {
		case strings.Contains(stem, "secret") || strings.Contains(stem, "credential") || stem == "env" || stem == ".env":
			return credStructured
		case strings.HasPrefix(base, "pulumi.") && ext != ".json":
			return credLeaves // stack configuration: plain values of secret-named keys
		case ext != ".json" && strings.HasPrefix(stem, "application"):
			return credAppYAML
		case ext != ".json":
			return credYAML
		}
	}
	return None
}

var (
	jsonKubeconfig = lazyregexp.New(`"kind"\s*:\s*"Config"`)
	jsonGCloud     = lazyregexp.New(`"type"\s*:\s*"(?:service_account|authorized_user)"`)
	yamlKube       = lazyregexp.New(`^(?:apiVersion|kind|clusters|contexts|current-context|preferences|users)\s*:`)
)

// KindOf is KindOfName, and where the name says nothing, the
// kind the file's first bytes (head, as text) show: a registry login, a
// kubeconfig, a cloud key, an infrastructure state or a git config under
// any name.
func KindOf(name string, head []byte) Kind {
	if k := KindOfName(name); k != None {
		return k
	}
	t := bytes.TrimLeft(head, " \t\r\n\ufeff") // and a UTF-8 byte-order mark
	if len(t) == 0 {
		return None
	}
	has := func(s string) bool { return bytes.Contains(t, []byte(s)) }
	switch t[0] {
	case '{':
		switch {
		case has(`"auths"`):
			return credDockerConfig
		case jsonKubeconfig().Match(t), has(`"clusters"`) && has(`"apiVersion"`):
			return credKubeconfig
		case has(`"terraform_version"`) && has(`"lineage"`):
			return credTFState
		case (has(`"checkpoint"`) || has(`"deployment"`)) && (has(`"manifest"`) || has(`"secrets_providers"`)):
			return credPulumiState
		case jsonGCloud().Match(t), has(`"credential_type"`) && (has(`"AccessToken"`) || has(`"RefreshToken"`)),
			has(`"http-basic"`), has(`"github-oauth"`), has(`"gitlab-token"`), has(`"gitlab-oauth"`), has(`"bitbucket-oauth"`):
			return credLeaves
		case has(`"ConnectionStrings"`):
			return credDotnet
		}
	case '[':
		switch {
		case bytes.HasPrefix(t, []byte("[core]")) && has("repositoryformatversion"):
			return credGitConfig
		case has("aws_access_key_id") || has("aws_secret_access_key"):
			return credAWS
		}
	case '<':
		switch {
		case has("<settings") && has("maven"):
			return credMaven
		case has("<configuration") && (has("<packageSource") || has("<packageSourceCredentials")):
			return credNuGet
		case has("<configuration") && (has("<connectionStrings") || has("<appSettings")):
			return credDotnetXML
		}
	default:
		if yamlKube().Match(firstYAMLLine(t)) {
			return credYAML // a Kubernetes manifest or a kubeconfig under another name
		}
	}
	return None
}

// firstYAMLLine returns the first line of t that is not blank, a comment
// or a document marker.
func firstYAMLLine(t []byte) []byte {
	for len(t) > 0 {
		line := t
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			line, t = t[:i], t[i+1:]
		} else {
			t = nil
		}
		l := bytes.TrimSpace(line)
		if len(l) > 0 && l[0] != '#' && !bytes.Equal(l, []byte("---")) {
			return l
		}
	}
	return nil
}

// LooksLikeSecretsFile reports whether a file's name says it is a secrets
// file: one that holds nothing but secrets (.env, secrets.yaml, .npmrc...),
// as opposed to a file that may hold some (a kubeconfig, any YAML).
func LooksLikeSecretsFile(name string) bool {
	switch KindOfName(name) {
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
	k8sSecret  bool // a Kubernetes Secret's data
}

// lineKind reports whether files of kind k are read line by line, as a
// stream, whatever their size.
func lineKind(k Kind) bool {
	switch k {
	case credNpmrc, credNetrc, credGitCredentials, credProperties, credPgpass, credHCL:
		return true
	}
	_, ini := iniRules[k]
	return ini
}

// checkCredentials reads a file of kind k from r and returns the first
// plaintext credential in it. Line-based kinds are read as a stream,
// whatever their size; the others whole, up to limit bytes (ErrTooLarge
// beyond). A file with SOPS metadata is sealed, not plaintext.
func checkCredentials(k Kind, r io.Reader, sealed map[string]bool, limit int64) (*credential, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	src := io.Reader(br)
	if head, _ := br.Peek(64); len(head) > 0 {
		if order, skip, ok := decode.UTF16Text(head); ok {
			br.Discard(skip)
			src = decode.NewUTF16Reader(br, order) // UTF-16 text, as Windows tools save it
		}
	}
	switch {
	case k == credDotenv:
		// A sealed dotenv bundle has its metadata at the end: keep what
		// was read (up to limit) to check it for a hand-typed value.
		var kept limitedBuffer
		kept.limit = limit
		c, err := lineCredentials(k, bufio.NewReaderSize(io.TeeReader(src, &kept), 64<<10), sealed)
		if errors.Is(err, errSealed) {
			if kept.over {
				return nil, ErrTooLarge
			}
			return unsealedValue(seal.FormatDotenv, kept.b)
		}
		return c, err
	case lineKind(k):
		return lineCredentials(k, bufio.NewReaderSize(src, 64<<10), sealed)
	case k == credYAML:
		return kubeManifests(src, limit)
	case k == credStore:
		return storeCredential(src)
	}
	data, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrTooLarge
	}
	return documentCredential(k, data, sealed)
}

// storeCredential checks a file that is a credential as a whole: any
// content but a placeholder is one.
func storeCredential(r io.Reader) (*credential, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	v := strings.TrimSpace(string(data))
	if IsPlaceholder(v) && !bytes.ContainsAny(data, "\x00\x01\x02\x03") {
		return nil, nil
	}
	return &credential{key: "the file", value: v}, nil
}

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
