package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/golden")

// placeholder returns n deterministic characters of alnum, from seed: a
// value made at test time that is the same in every run, so that a golden
// report does not change, and that no bundle ever sealed.
func placeholder(seed uint64, n int) string {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), 's', 'e', 'a', 'l', 'e', 'n', 'v'}))
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// goldenImage is the fixed image of the golden reports: a sealed value in
// plain text, base64-encoded, in a file a later layer deletes and in the
// config's environment, and a .env file with a plaintext credential.
func goldenImage(t *testing.T) (v1.Image, []Value) {
	value := placeholder(1, 24)
	other := placeholder(2, 32)
	values := []Value{{Name: "DB_PASSWORD", Value: []byte(value)}}
	img := image(t, v1.Config{Env: []string{"PATH=/usr/bin", "DB_URL=postgres://app:" + value + "@db/app"}}, nil,
		tarLayer(t, "gzip",
			file{"app/config.yaml", []byte("database:\n  password: " + value + "\n")},
			file{"app/encoded.txt", []byte(base64.StdEncoding.EncodeToString([]byte(value)) + "\n")},
			file{"app/old.conf", []byte("pass=" + value + "\n")},
		),
		tarLayer(t, "none",
			file{"app/.wh.old.conf", nil},
			file{"app/.env", []byte("API_TOKEN=" + other + "\n")},
		),
	)
	return img, values
}

// The reports of a fixed image, in JSON and SARIF, are the golden files
// in testdata/golden (go test ./audit -run TestGoldenReports -update
// rewrites them; review the diff). They hold masked previews, never a
// value: the values are placeholders made at test time.
func TestGoldenReports(t *testing.T) {
	t.Parallel()
	img, values := goldenImage(t)
	r, err := Image(context.Background(), img, Options{Values: values})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, format string }{
		{"image.json", "json"},
		{"image.sarif", "sarif"},
	} {
		var buf bytes.Buffer
		if err := r.Write(&buf, c.format); err != nil {
			t.Fatal(err)
		}
		noValuesIn(t, buf.Bytes(), values)
		golden(t, filepath.Join("testdata", "golden", c.file), buf.Bytes())
	}
}

// noValuesIn fails if out holds any of the values.
func noValuesIn(t *testing.T, out []byte, values []Value) {
	t.Helper()
	for _, v := range values {
		if bytes.Contains(out, v.Value) {
			t.Errorf("the report contains the value of %s", v.Name)
		}
	}
}

// golden compares got with the file at path, or with -update writes it.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./audit -run TestGoldenReports -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the report (run with -update and review the diff); got:\n%s", path, got)
	}
}
