package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"unicode/utf16"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// Each credentials file, with a value generated now, is a finding; its
// twin with a placeholder or a reference is not.
func TestCredentialFiles(t *testing.T) {
	uuid := randString(t, "0123456789abcdef", 8) + "-" + randString(t, "0123456789abcdef", 4) + "-4" + randString(t, "0123456789abcdef", 3) + "-a" + randString(t, "0123456789abcdef", 3) + "-" + randString(t, "0123456789abcdef", 12)
	pw := randString(t, alnum, 20)
	b64 := base64.StdEncoding.EncodeToString([]byte("user:" + pw))
	utf16le := func(s string) string {
		u := utf16.Encode([]rune(s))
		b := []byte{0xff, 0xfe}
		for _, c := range u {
			b = binary.LittleEndian.AppendUint16(b, c)
		}
		return string(b)
	}
	for _, c := range []struct {
		name, rule string
		yes, no    string
	}{
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
	} {
		for _, twin := range []string{c.yes, c.no} {
			data := []byte(twin)
			r, err := Files(context.Background(), []File{{Path: c.name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, f := range r.Findings {
				if f.Rule == c.rule && f.Path == c.name {
					got = true
				}
			}
			if want := twin == c.yes; got != want {
				t.Errorf("%s (%d bytes): finding %v, want %v: %s", c.name, len(data), got, want, dump(t, r))
			}
			noValues(t, r, pw, uuid, b64)
		}
	}
}

// A plaintext line typed into a sealed bundle is a finding (keyless); the
// bundle as sealenv wrote it is not.
func TestPlaintextLineInSealedBundle(t *testing.T) {
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
		data := c.data
		r, err := Files(context.Background(), []File{{Path: "secrets/prod.env", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := len(r.Findings) == 1 && r.Findings[0].Rule == "plaintext-value" && r.Findings[0].Name == "API_TOKEN"
		if got != c.want || (!c.want && len(r.Findings) > 0) {
			t.Errorf("want finding %v: %s", c.want, dump(t, r))
		}
	}
}
