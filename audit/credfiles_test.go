package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/sealenv/sealenv/audit/internal/decode"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// filesOf audits one file with the data given.
func filesOf(t *testing.T, name string, data []byte) *Report {
	t.Helper()
	r, err := Files(context.Background(), []File{{Path: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func utf16Bytes(s string, order binary.AppendByteOrder, bom bool) []byte {
	var b []byte
	if bom {
		b = order.AppendUint16(b, 0xfeff)
	}
	for _, c := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, c)
	}
	return b
}

// credCase is a file a tool writes with a credential in it (yes), and its
// twin with a placeholder, a reference or no credential, which must be
// clean: no finding at all.
type credCase struct {
	name, rule string
	yes, no    string
}

func checkCredCases(t *testing.T, cases []credCase, secrets ...string) {
	t.Helper()
	for _, c := range cases {
		for _, twin := range []string{c.yes, c.no} {
			r := filesOf(t, c.name, []byte(twin))
			got := false
			for _, f := range r.Findings {
				// A value that a rule of the rule set also matches (a
				// random 40-character key is, now and then, an AWS
				// secret key to that rule) is reported once, by the
				// more specific rule.
				if f.Path == c.name && (f.Rule == c.rule || f.Kind == kindRule && onSecretLine(twin, f.Offset, secrets)) {
					got = true
				}
			}
			switch {
			case twin == c.yes && !got:
				t.Errorf("%s (%d bytes): no %s finding: %s", c.name, len(twin), c.rule, dump(t, r))
			case twin == c.no && (len(r.Findings) > 0 || !r.Coverage.Complete):
				t.Errorf("%s: the clean twin has findings: %s", c.name, dump(t, r))
			}
			noValues(t, r, secrets...)
		}
	}
}

// onSecretLine reports whether off is on a line of text that holds one of
// the secrets.
func onSecretLine(text string, off *int64, secrets []string) bool {
	if off == nil || *off > int64(len(text)) {
		return false
	}
	start := strings.LastIndexByte(text[:*off], '\n') + 1
	end := strings.IndexByte(text[*off:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += int(*off)
	}
	for _, s := range secrets {
		if strings.Contains(text[start:end], s) {
			return true
		}
	}
	return false
}

// Each credentials file the mainstream tools write, with a value generated
// now, is a finding that names the key; its twin with a placeholder or a
// reference is clean.
func TestCredentialFiles(t *testing.T) {
	t.Parallel()
	uuid := randString(t, "0123456789abcdef", 8) + "-" + randString(t, "0123456789abcdef", 4) + "-4" + randString(t, "0123456789abcdef", 3) + "-a" + randString(t, "0123456789abcdef", 3) + "-" + randString(t, "0123456789abcdef", 12)
	pw := randString(t, alnum, 20)
	b64 := base64.StdEncoding.EncodeToString([]byte("user:" + pw))
	utf16le := func(s string) string { return string(utf16Bytes(s, binary.LittleEndian, true)) }
	checkCredCases(t, []credCase{
		{".npmrc", "credentials-file", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=" + uuid + "\n", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"},
		{"home/.npmrc", "credentials-file", "_auth=" + b64 + "\nalways-auth=true\n", "always-auth=true\n"},
		{".pypirc", "credentials-file", "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = deploy\npassword = " + pw + "\n", "[pypi]\nusername = __token__\npassword = ${PYPI_TOKEN}\n"},
		{"root/.netrc", "credentials-file", "machine github.com login deploy password " + pw + "\n", "machine github.com login deploy\n"},
		{".git-credentials", "credentials-file", "https://deploy:" + pw + "@github.com\n", "https://github.com\n"},
		{"root/.docker/config.json", "credentials-file", `{"auths":{"registry.example.com":{"auth":"` + b64 + `"}}}`, `{"auths":{"registry.example.com":{}},"credsStore":"pass"}`},
		{".dockerconfigjson", "credentials-file", `{"auths":{"ghcr.io":{"identitytoken":"` + pw + `"}}}`, `{"auths":{}}`},
		{"root/.kube/config", "credentials-file", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: " + pw + "\n", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    exec:\n      command: aws\n"},
		{"ops/prod.kubeconfig", "credentials-file", "users:\n- name: a\n  user:\n    client-key-data: " + base64.StdEncoding.EncodeToString([]byte(pw+pw+pw)) + "\n", "users: []\n"},
		{"deploy/manifests.yaml", "kubernetes-secret", "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: " + base64.StdEncoding.EncodeToString([]byte(pw)) + "\n", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"},
		{"src/main/resources/application.properties", "credentials-file", "spring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.password=" + pw + "\n", "spring.datasource.password=${DB_PASSWORD}\n"},
		{"config/application-prod.yml", "credentials-file", "spring:\n  datasource:\n    password: " + pw + "\n", "spring:\n  datasource:\n    password: ${DB_PASSWORD}\n"},
		{".envrc", "plaintext-bundle", "export AWS_SECRET_ACCESS_KEY=" + pw + "\n", "export AWS_PROFILE=dev\n"},
		{"app/.env", "plaintext-bundle", utf16le("DB_PASSWORD=" + pw + "\r\n"), utf16le("DB_HOST=db\r\n")},
		{"app/big.env", "plaintext-bundle", strings.Repeat("# padding line to make this file large\n", 150000) + "API_TOKEN=" + pw + "\n", strings.Repeat("# padding\n", 1000)},
	}, pw, uuid, b64)
}

// Registry logins of the other container and package tools: podman,
// buildah and skopeo (auth.json under containers/), Helm (registry
// config.json, repositories.yaml), Yarn 2+ (.yarnrc.yml), pip, Poetry,
// Maven, Gradle, NuGet, cargo, RubyGems and Composer.
func TestRegistryLogins(t *testing.T) {
	t.Parallel()
	pw := randString(t, alnum, 24)
	b64 := base64.StdEncoding.EncodeToString([]byte("deploy:" + pw))
	hex48 := randString(t, "0123456789abcdef", 48)
	enc := "{" + randString(t, alnum+"+/", 24) + "=}"
	checkCredCases(t, []credCase{
		{"run/user/1000/containers/auth.json", "credentials-file", `{"auths": {"quay.io": {"auth": "` + b64 + `"}}}`, `{"auths": {}}`},
		{"root/.config/helm/registry/config.json", "credentials-file", `{"auths": {"ghcr.io": {"auth": "` + b64 + `"}}}`, `{"auths": {"ghcr.io": {}}}`},
		{"root/.config/helm/repositories.yaml", "credentials-file", "apiVersion: \"\"\nrepositories:\n- name: private\n  url: https://charts.example.com\n  username: deploy\n  password: " + pw + "\n  certFile: \"\"\n", "apiVersion: \"\"\nrepositories:\n- name: stable\n  url: https://charts.example.com\n  password: \"\"\n"},
		{"app/.yarnrc.yml", "credentials-file", "npmRegistryServer: \"https://npm.example.com\"\nnpmScopes:\n  acme:\n    npmAuthToken: " + pw + "\n", "npmAuthToken: \"${NPM_TOKEN}\"\n"},
		{"app/.yarnrc", "credentials-file", "\"//registry.npmjs.org/:_authToken\" " + pw + "\n", "registry \"https://registry.npmjs.org/\"\n"},
		{"etc/pip.conf", "credentials-file", "[global]\nindex-url = https://deploy:" + pw + "@pypi.example.com/simple\n", "[global]\nindex-url = https://pypi.org/simple\n"},
		{"root/.config/pypoetry/auth.toml", "credentials-file", "[http-basic.private]\nusername = \"deploy\"\npassword = \"" + pw + "\"\n", "[http-basic.private]\nusername = \"deploy\"\n"},
		{"root/.m2/settings.xml", "credentials-file", "<settings xmlns=\"http://maven.apache.org/SETTINGS/1.0.0\">\n  <servers>\n    <server>\n      <id>nexus</id>\n      <username>deploy</username>\n      <password>" + pw + "</password>\n    </server>\n  </servers>\n</settings>\n",
			"<settings>\n  <servers>\n    <server>\n      <id>nexus</id>\n      <username>deploy</username>\n      <password>" + enc + "</password>\n    </server>\n    <server>\n      <id>env</id>\n      <password>${env.NEXUS_PASSWORD}</password>\n    </server>\n  </servers>\n</settings>\n"},
		{"root/.gradle/gradle.properties", "credentials-file", "mavenUser=deploy\nmavenPassword=" + pw + "\n", "mavenUser=deploy\nsigning.secretKeyRingFile=~/.gnupg/secring.gpg\n"},
		{"src/NuGet.Config", "credentials-file", "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <add key=\"Contoso\" value=\"https://contoso.com/packages/\" />\n  </packageSources>\n  <packageSourceCredentials>\n    <Contoso>\n      <add key=\"Username\" value=\"deploy\" />\n      <add key=\"ClearTextPassword\" value=\"" + pw + "\" />\n    </Contoso>\n  </packageSourceCredentials>\n</configuration>\n",
			"<configuration>\n  <packageSourceCredentials>\n    <Contoso>\n      <add key=\"Username\" value=\"deploy\" />\n      <add key=\"ClearTextPassword\" value=\"%NUGET_PASSWORD%\" />\n    </Contoso>\n  </packageSourceCredentials>\n</configuration>\n"},
		{"root/.cargo/credentials.toml", "credentials-file", "[registry]\ntoken = \"cio" + randString(t, alnum, 32) + "\"\n\n[registries.private]\ntoken = \"" + pw + "\"\n", "[registry]\n"},
		{"root/.gem/credentials", "credentials-file", "---\n:rubygems_api_key: rubygems_" + hex48 + "\n", "---\n"},
		{"root/.composer/auth.json", "credentials-file", `{"github-oauth": {"github.com": "` + pw + `"}, "http-basic": {"repo.example.org": {"username": "deploy"}}}`, `{"github-oauth": {}, "http-basic": {"repo.example.org": {"username": "deploy"}}}`},
		{"app/auth.json", "credentials-file", `{"http-basic": {"repo.example.org": {"username": "deploy", "password": "` + pw + `"}}}`, `{"http-basic": {}}`},
	}, pw, b64, hex48)
}

// Cluster access (kubeconfig under any name, by content), cloud CLIs
// (AWS, gcloud, Azure CLI, s3cmd, rclone, boto), databases (.pgpass,
// .my.cnf), Vault and the GitHub CLI.
func TestCloudAndClusterFiles(t *testing.T) {
	t.Parallel()
	pw := randString(t, alnum, 24)
	key40 := randString(t, alnum+"+/", 40)
	keyData := base64.StdEncoding.EncodeToString([]byte("-----BEGIN EC PRIVATE KEY-----\n" + randString(t, alnum+"+/", 64) + "\n-----END EC PRIVATE KEY-----\n"))
	kube := "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("c", 600))) + "\n    server: https://10.0.0.1:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod\ncurrent-context: prod\nkind: Config\npreferences: {}\nusers:\n- name: admin\n  user:\n"
	checkCredCases(t, []credCase{
		{"etc/kubernetes/admin.conf", "credentials-file", kube + "    client-certificate-data: Y2VydA==\n    client-key-data: " + keyData + "\n", kube + "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n"},
		{"srv/cluster-access", "credentials-file", kube + "    token: " + pw + "\n", kube + "    token: ${K8S_TOKEN}\n"},
		{"srv/ops/prod.yml", "credentials-file", kube + "    auth-provider:\n      name: oidc\n      config:\n        refresh-token: " + pw + "\n", kube + "    auth-provider:\n      name: gcp\n"},
		{"srv/cluster-access.conf", "credentials-file", "# written by hand\n---\n" + kube + "    token: " + pw + "\n", "# written by hand\n---\n" + kube},
		{"srv/kube.json", "credentials-file", `{"kind": "Config", "apiVersion": "v1", "users": [{"name": "admin", "user": {"token": "` + pw + `"}}]}`, `{"kind": "Config", "apiVersion": "v1", "users": [{"name": "admin", "user": {}}]}`},
		{"srv/ops/admin.kubeconfig", "credentials-file", string(utf16Bytes(kube+"    password: "+pw+"\n", binary.LittleEndian, true)), string(utf16Bytes(kube, binary.LittleEndian, true))},
		{"root/.aws/credentials", "credentials-file", "[default]\naws_access_key_id = AKIA" + randString(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "\naws_session_token = " + pw + "\n", "[default]\ncredential_process = /usr/local/bin/aws-vault export --format=json prod\n"},
		{"ci/aws.ini", "credentials-file", "[prod]\naws_access_key_id = AKIA" + randString(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "\naws_session_token = " + pw + "\n", "[prod]\naws_access_key_id = ${AWS_ACCESS_KEY_ID}\n"},
		{"root/.config/gcloud/application_default_credentials.json", "credentials-file", `{"account": "", "client_id": "764086051850-x.apps.googleusercontent.com", "client_secret": "` + pw + `", "refresh_token": "1//0` + pw + `", "type": "authorized_user"}`, `{"type": "external_account", "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh", "credential_source": {"file": "/var/run/token"}}`},
		{"deploy/sa.json", "credentials-file", `{"type": "service_account", "project_id": "p", "private_key_id": "` + randString(t, "0123456789abcdef", 40) + `", "client_secret": "` + pw + `"}`, `{"type": "service_account", "project_id": "p", "client_email": "ci@p.iam.gserviceaccount.com"}`},
		{"root/.azure/msal_token_cache.json", "credentials-file", `{"AccessToken": {"a-login.microsoftonline.com-accesstoken-c-t-scope": {"credential_type": "AccessToken", "secret": "` + pw + `", "home_account_id": "a"}}, "RefreshToken": {}}`, `{"AccessToken": {}, "Account": {}, "RefreshToken": {}}`},
		{"root/.azure/service_principal_entries.json", "credentials-file", `[{"client_id": "c", "tenant": "t", "client_secret": "` + pw + `"}]`, `[{"client_id": "c", "tenant": "t", "certificate": "/home/ci/sp.pem"}]`},
		{"root/.s3cfg", "credentials-file", "[default]\naccess_key = AKIA" + randString(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "\nsecret_key = " + key40 + "\n", "[default]\naccess_key =\nsecret_key =\n"},
		{"root/.config/rclone/rclone.conf", "credentials-file", "[backup]\ntype = s3\nprovider = AWS\naccess_key_id = x\nsecret_access_key = " + key40 + "\n", "[backup]\ntype = s3\nenv_auth = true\n"},
		{"root/.boto", "credentials-file", "[Credentials]\ngs_oauth2_refresh_token = " + pw + "\n", "[Boto]\nhttps_validate_certificates = True\n"},
		{"root/.pgpass", "credentials-file", "db.internal:5432:app:app:" + pw + "\n", "# hostname:port:database:username:password\n"},
		{"root/.my.cnf", "credentials-file", "[client]\nuser=app\npassword=\"" + pw + "\"\n", "[client]\nuser=app\n"},
		{"root/.vault-token", "credentials-file", "s." + pw, ""},
		{"root/.config/gh/hosts.yml", "credentials-file", "github.com:\n    oauth_token: " + pw + "\n    user: me\n", "github.com:\n    user: me\n    git_protocol: https\n"},
	}, pw, key40, keyData)
}

// Infrastructure state and variables: Terraform state (sensitive outputs,
// attributes the provider marks sensitive, secret-named ones; under any
// name by content), *.tfvars, variable defaults, .terraformrc and
// credentials.tfrc.json, Pulumi checkpoints, stack exports, credentials
// and stack configuration.
func TestInfrastructureFiles(t *testing.T) {
	t.Parallel()
	pw := randString(t, alnum, 24)
	uuid := randString(t, "0123456789abcdef", 8) + "-" + randString(t, "0123456789abcdef", 4) + "-4" + randString(t, "0123456789abcdef", 3) + "-8" + randString(t, "0123456789abcdef", 3) + "-" + randString(t, "0123456789abcdef", 12)
	head := `{"version": 4, "terraform_version": "1.9.5", "serial": 3, "lineage": "` + uuid + `", `
	res := func(attrs, sensitive string) string {
		return `"resources": [{"mode": "managed", "type": "aws_db_instance", "name": "main", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": [{"schema_version": 2, "attributes": ` + attrs + `, "sensitive_attributes": ` + sensitive + `}]}]}`
	}
	tfc := randString(t, alnum, 14) + ".atlasv1." + randString(t, alnum, 67)
	sig := `"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"`
	pulumi := func(out string) string {
		return `{"version": 3, "checkpoint": {"stack": "organization/app/dev", "latest": {"manifest": {"time": "2024-01-01T00:00:00Z", "magic": "x", "version": "v3.100.0"}, "secrets_providers": {"type": "passphrase"}, "resources": [{"urn": "urn:pulumi:dev::app::aws:rds/instance:Instance::db", "outputs": ` + out + `}]}}}`
	}
	checkCredCases(t, []credCase{
		{"infra/terraform.tfstate", "infrastructure-secret", head + `"outputs": {"db_password": {"value": "` + pw + `", "type": "string", "sensitive": true}}, ` + res(`{"id": "db-1"}`, `[]`), head + `"outputs": {"endpoint": {"value": "db.internal", "type": "string"}}, ` + res(`{"id": "db-1", "password": null}`, `[[{"type": "get_attr", "value": "password"}]]`)},
		{"infra/terraform.tfstate.backup", "infrastructure-secret", head + `"outputs": {}, ` + res(`{"id": "db-1", "connection_uri": "postgres://db.internal/app?sslmode=verify-full&x=`+pw+`"}`, `[[{"type": "get_attr", "value": "connection_uri"}]]`), head + `"outputs": {}, ` + res(`{"id": "db-1", "connection_uri": ""}`, `[[{"type": "get_attr", "value": "connection_uri"}]]`)},
		{"backup/state-2024.json", "infrastructure-secret", head + `"outputs": {}, ` + res(`{"id": "db-1", "master_password": "`+pw+`"}`, `[]`), head + `"outputs": {}, ` + res(`{"id": "db-1", "master_username": "admin"}`, `[]`)},
		{"infra/prod.tfvars", "infrastructure-secret", "region = \"eu-west-1\"\ndb_password = \"" + pw + "\"\n", "region = \"eu-west-1\"\ndb_user = \"app\"\n"},
		{"infra/secrets.auto.tfvars", "infrastructure-secret", "api_token = \"" + pw + "\"\n", "api_token = \"\"\n"},
		{"infra/variables.tf", "infrastructure-secret", "variable \"db_password\" {\n  type      = string\n  sensitive = true\n  default   = \"" + pw + "\"\n}\n", "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\n"},
		{"root/.terraformrc", "infrastructure-secret", "credentials \"app.terraform.io\" {\n  token = \"" + tfc + "\"\n}\n", "credentials_helper \"vault\" {\n  args = []\n}\n"},
		{"root/.terraform.d/credentials.tfrc.json", "credentials-file", `{"credentials": {"app.terraform.io": {"token": "` + tfc + `"}}}`, `{"credentials": {}}`},
		{"root/.pulumi/stacks/app/dev.json", "infrastructure-secret", pulumi(`{"password": {` + sig + `, "plaintext": "\"` + pw + `\""}}`), pulumi(`{"password": {` + sig + `, "ciphertext": "v1:` + randString(t, alnum, 16) + `"}}`)},
		{"backup/dev-export.json", "infrastructure-secret", `{"version": 3, "deployment": {"manifest": {"time": "2024-01-01T00:00:00Z"}, "resources": [{"urn": "u", "inputs": {"adminPassword": "` + pw + `"}}]}}`, `{"version": 3, "deployment": {"manifest": {"time": "2024-01-01T00:00:00Z"}, "resources": [{"urn": "u", "inputs": {"adminUser": "admin"}}]}}`},
		{"root/.pulumi/credentials.json", "credentials-file", `{"current": "https://api.pulumi.com", "accessTokens": {"https://api.pulumi.com": "pul-` + randString(t, "0123456789abcdef", 40) + `"}}`, `{"current": "https://api.pulumi.com", "accessTokens": {}}`},
		{"infra/Pulumi.dev.yaml", "credentials-file", "config:\n  app:dbPassword: " + pw + "\n", "config:\n  app:dbPassword:\n    secure: v1:" + randString(t, alnum, 24) + "\n"},
	}, pw, tfc)
}

// .NET settings: connection strings with a password in appsettings*.json
// and web.config, and secret-named settings.
func TestDotnetSettings(t *testing.T) {
	t.Parallel()
	pw := randString(t, alnum, 20)
	checkCredCases(t, []credCase{
		{"app/appsettings.json", "credentials-file", `{"ConnectionStrings": {"Default": "Server=db.internal;Database=app;User Id=app;Password=` + pw + `;"}, "Logging": {"LogLevel": {"Default": "Information"}}}`, `{"ConnectionStrings": {"Default": "Server=db.internal;Database=app;Integrated Security=true;"}}`},
		{"app/appsettings.Production.json", "credentials-file", `{"Auth": {"ClientId": "app", "ClientSecret": "` + pw + `"}}`, `{"Auth": {"ClientId": "app", "ClientSecret": ""}}`},
		{"app/config/settings.json", "credentials-file", `{"ConnectionStrings": {"Db": "Data Source=db;Initial Catalog=app;User ID=app;Pwd=` + pw + `"}}`, `{"ConnectionStrings": {"Db": "Data Source=db;Initial Catalog=app;User ID=app;Pwd=%DB_PWD%"}}`},
		{"app/web.config", "credentials-file", "<?xml version=\"1.0\"?>\n<configuration>\n  <connectionStrings>\n    <add name=\"Default\" connectionString=\"Server=db;Database=app;User Id=app;Password=" + pw + ";\" providerName=\"System.Data.SqlClient\" />\n  </connectionStrings>\n</configuration>\n",
			"<?xml version=\"1.0\"?>\n<configuration>\n  <connectionStrings>\n    <add name=\"Default\" connectionString=\"Server=db;Database=app;Integrated Security=SSPI;\" />\n  </connectionStrings>\n</configuration>\n"},
	}, pw)
}

// A token in a UTF-16 file (what Windows PowerShell 5's ">" writes: UTF-16
// LE with a byte-order mark; iconv's UTF-16BE, without one) is found by
// the rules, in the decoded text; the twin without one is clean. The files
// are written by iconv when it is installed.
func TestUTF16Text(t *testing.T) {
	t.Parallel()
	gh := "ghp_" + randString(t, alnum, 36)
	text := "PS C:\\> gh auth token\r\n" + gh + "\r\n"
	clean := "PS C:\\> gh auth status\r\nLogged in to github.com\r\n"
	forms := map[string]func(string) []byte{
		"utf16le-bom": func(s string) []byte { return utf16Bytes(s, binary.LittleEndian, true) },
		"utf16be-bom": func(s string) []byte { return utf16Bytes(s, binary.BigEndian, true) },
		"utf16le":     func(s string) []byte { return utf16Bytes(s, binary.LittleEndian, false) },
		"utf16be":     func(s string) []byte { return utf16Bytes(s, binary.BigEndian, false) },
	}
	if _, err := exec.LookPath("iconv"); err == nil {
		for form, to := range map[string]string{"iconv UTF-16": "UTF-16", "iconv UTF-16BE": "UTF-16BE", "iconv UTF-16LE": "UTF-16LE"} {
			forms[form] = func(s string) []byte {
				cmd := exec.Command("iconv", "-f", "UTF-8", "-t", to)
				cmd.Stdin = strings.NewReader(s)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("iconv: %v", err)
				}
				return out
			}
		}
	}
	for form, encode := range forms {
		r := filesOf(t, "logs/session.txt", encode(text))
		found := false
		for _, f := range r.Findings {
			if f.Rule == "github-token" && f.Path == "logs/session.txt" && strings.HasPrefix(f.Encoding, "utf16") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the token is not found: %s", form, dump(t, r))
		}
		noValues(t, r, gh)
		if r := filesOf(t, "logs/session.txt", encode(clean)); len(r.Findings) > 0 {
			t.Errorf("%s: the clean twin has findings: %s", form, dump(t, r))
		}
	}
	// Binary data with zero bytes is not text.
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	if _, _, ok := decode.UTF16Text(bin); ok {
		t.Error("binary data taken for UTF-16 text")
	}
}

// Files real tools write: podman login's auth.json (against an in-memory
// registry, the password on stdin), git's credential store and a git
// config with the extraheader actions/checkout persists (read back with
// git config to prove it is git's format).
func TestRealToolCredentials(t *testing.T) {
	t.Parallel()
	pw := randString(t, alnum, 24)
	dir := t.TempDir()
	t.Run("podman", func(t *testing.T) {
		if _, err := exec.LookPath("podman"); err != nil {
			t.Skip("podman is not installed")
		}
		s := httptest.NewServer(registry.New())
		defer s.Close()
		af := filepath.Join(dir, "auth.json")
		cmd := exec.Command("podman", "login", "--tls-verify=false", "--authfile", af, "-u", "deploy", "--password-stdin", strings.TrimPrefix(s.URL, "http://"))
		cmd.Stdin = strings.NewReader(pw + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman login: %v: %s", err, out)
		}
		data, err := os.ReadFile(af)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"run/containers/0/auth.json", "ci/registry-login.json"} {
			r := filesOf(t, name, data)
			if len(r.Findings) != 1 || r.Findings[0].Rule != "credentials-file" || !strings.HasSuffix(r.Findings[0].Name, " auth") {
				t.Errorf("%s: %s", name, dump(t, r))
			}
			noValues(t, r, pw, base64.StdEncoding.EncodeToString([]byte("deploy:"+pw)))
		}
	})
	t.Run("git", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("git is not installed")
		}
		home := t.TempDir()
		run := func(stdin string, args ...string) string {
			cmd := exec.Command("git", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1")
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("git %s: %v", args[0], err)
			}
			return string(out)
		}
		run("", "init", "-q", "repo")
		run("", "-C", "repo", "config", "credential.helper", "store")
		run("protocol=https\nhost=git.example.com\nusername=deploy\npassword="+pw+"\n\n", "-C", "repo", "credential", "approve")
		store, err := os.ReadFile(filepath.Join(home, ".git-credentials"))
		if err != nil {
			t.Fatal(err)
		}
		header := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + pw))
		cfgPath := filepath.Join(dir, "repo", ".git", "config")
		f, _ := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0o644)
		f.WriteString("[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic " + header + "\n")
		f.Close()
		if got := run("", "-C", "repo", "config", "--get", "http.https://github.com/.extraheader"); strings.TrimSpace(got) != "AUTHORIZATION: basic "+header {
			t.Fatal("git does not read the extraheader back")
		}
		cfg, _ := os.ReadFile(cfgPath)
		clean := bytes.ReplaceAll(cfg, []byte("AUTHORIZATION: basic "+header), []byte("AUTHORIZATION: basic ***"))
		checkCredCases(t, []credCase{
			{"root/.git-credentials", "credentials-file", string(store), "https://git.example.com\n"},
			{"app/.git/config", "credentials-file", string(cfg), string(clean)},
			{"srv/repo.git/config", "credentials-file", string(bytes.ReplaceAll(clean, []byte("[core]"), []byte("[remote \"origin\"]\n\turl = https://deploy:"+pw+"@git.example.com/o/r.git\n[core]"))), string(clean)},
		}, pw, header)
	})
}

// A plaintext line typed into a sealed bundle is a finding (keyless); the
// bundle as sealenv wrote it is not.
func TestPlaintextLineInSealedBundle(t *testing.T) {
	t.Parallel()
	id, _ := age.GenerateX25519Identity()
	b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	b.Set("DB_PASSWORD", []byte(randString(t, alnum, 20)))
	sealed, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	typed := append([]byte("API_TOKEN="+randString(t, alnum, 24)+"\n"), sealed...)
	for _, c := range []struct {
		data []byte
		want bool
	}{{sealed, false}, {typed, true}} {
		r := filesOf(t, "secrets/prod.env", c.data)
		got := len(r.Findings) == 1 && r.Findings[0].Rule == "plaintext-value" && r.Findings[0].Name == "API_TOKEN"
		if got != c.want || (!c.want && len(r.Findings) > 0) {
			t.Errorf("want finding %v: %s", c.want, dump(t, r))
		}
	}
}
