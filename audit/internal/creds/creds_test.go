package creds

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
	"unicode/utf16"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randString returns n random characters of set, made at test time: no
// secret is ever committed.
func randString(t testing.TB, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = set[k.Int64()]
	}
	return string(b)
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

// FuzzCredentialReaders runs every credential reader (and the UTF-16
// decoder in front of them) on any bytes: none panics, a finding names a
// key and shows only a masked preview of the value, never the value.
func FuzzCredentialReaders(f *testing.F) {
	names := []string{".env", "secrets.yaml", ".npmrc", ".netrc", ".git-credentials", "root/.docker/config.json", "auth.json",
		"root/.kube/config", "application.properties", "application.yml", "k8s.yaml", ".yarnrc.yml", "root/.gem/credentials",
		".pgpass", "main.tf", "terraform.tfstate", "root/.pulumi/stacks/a/b.json", "root/.m2/settings.xml", "NuGet.Config",
		"appsettings.json", "web.config", ".vault-token", ".pypirc", "root/.aws/credentials", ".boto", ".s3cfg", "rclone.conf",
		".my.cnf", "pip.conf", "root/.cargo/credentials.toml", "root/pypoetry/auth.toml", "app/.git/config", "no-name"}
	pw := randString(f, alnum, 20)
	for _, seed := range []string{
		"DB_PASSWORD=" + pw + "\n", `{"auths":{"h":{"auth":"` + pw + `"}}}`, "[core]\n\trepositoryformatversion = 0\n[http]\n\textraheader = AUTHORIZATION: basic " + pw + "\n",
		"apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    token: " + pw + "\n", `{"version": 4, "terraform_version": "1", "lineage": "l", "outputs": {"a": {"value": "` + pw + `", "sensitive": true}}}`,
		"<settings><servers><server><password>" + pw + "</password></server></servers></settings>", "h:1:d:u:" + pw + "\n",
		"variable \"db_password\" {\n default = \"" + pw + "\"\n}\n", string(utf16Bytes("password="+pw, binary.LittleEndian, true)),
	} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		name := names[int(which)%len(names)]
		fd, err := Check(name, bytes.NewReader(data), map[string]bool{"DB_PASSWORD": true}, 1<<20)
		if err != nil || fd == nil {
			return
		}
		if fd.Rule == "" || fd.Message == "" || fd.Name == "" && fd.Rule != "plaintext-value" {
			t.Fatalf("%s: incomplete finding %+v", name, fd)
		}
		if i := strings.Index(fd.Preview, "****"); i > 4 {
			t.Fatalf("%s: the preview shows %d bytes", name, i)
		}
	})
}

// TestPlaceholderPaths: a path (the file that holds the secret) is a
// placeholder; a base64 key that begins with "/", as one in 64 do (AWS
// secret keys among them), is a value.
func TestPlaceholderPaths(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/run/secrets/db_password", "/home/ci/sp.pem", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", "/etc/app/credentials.json"} {
		if !IsPlaceholder(p) {
			t.Errorf("%s: a path, not a placeholder", p)
		}
	}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	missed := 0
	for i := 0; i < 2000; i++ {
		if IsPlaceholder("/" + randString(t, b64, 39)) {
			missed++
		}
	}
	// Two or more slashes can cut a key into short names: about 1.2 in a
	// thousand are taken for paths (measured over 400,000 keys), 2.4 in
	// 2,000 on average. Up to 20 (1%) passes: a limit of 6 failed about
	// one run in a hundred, and a real regression takes far more.
	if missed > 20 {
		t.Errorf("%d of 2000 random keys that begin with / taken for paths", missed)
	}
}
