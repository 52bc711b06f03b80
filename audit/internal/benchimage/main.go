// Command benchimage builds the image that scripts/bench-audit.sh audits:
// the Go toolchain tree (real third-party files) with secrets planted in
// every place sealenv audit searches, a sealed bundle of the known values,
// and the list of what was planted. Every secret is generated at run time.
//
//	benchimage build -dir DIR [-copies N]
//	benchimage score -dir DIR -sealenv FILE -gitleaks FILE
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/sealenv/sealenv/internal/fingerprint"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// Planted is one secret and where it is.
type Planted struct {
	ID     string   `json:"id"`
	Values []string `json:"values"` // the forms a finding may quote
	Path   string   `json:"path,omitempty"`
	Field  string   `json:"field,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchimage build|score ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "output directory")
	copies := fs.Int("copies", 1, "copies of the Go tree, one layer each")
	layers := fs.Int("layers", 0, "spread the copies of the Go tree over this many layers of about equal size (default: one layer a copy)")
	noArchive := fs.Bool("no-archive", false, "write only the OCI layout, not the docker-archive (saves the disk a large image takes twice)")
	gzipped := fs.Bool("gzip", false, "gzip the Go tree layers (as registries hold them)")
	fs.StringVar(&exclude, "exclude", "", "leave out the Go tree's files with this suffix (.bz2: its bzip2 test data decodes to 104 MB)")
	se := fs.String("sealenv", "", "sealenv JSON report")
	gl := fs.String("gitleaks", "", "gitleaks JSON report")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "build":
		build(*dir, *copies, *layers, *gzipped, *noArchive)
	case "score":
		score(*dir, *se, *gl)
	default:
		fail("usage: benchimage build|score ...")
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchimage: "+format+"\n", a...)
	os.Exit(2)
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func random(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		b[i] = set[k.Int64()]
	}
	return string(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

type file struct {
	name string
	data []byte
}

func tarOf(files ...file) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		check(tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}))
		tw.Write(f.data)
	}
	check(tw.Close())
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// goTree writes the Go tree under prefix, and extra files, as an
// uncompressed layer file.
// exclude is a file name suffix left out of the Go tree (-exclude).
var exclude string

func goTree(dir, prefix string, extra ...file) *fileLayer {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	check(err)
	root := strings.TrimSpace(string(out))
	p := filepath.Join(dir, strings.ReplaceAll(prefix, "/", "_")+".tar")
	f, err := os.Create(p)
	check(err)
	tw := tar.NewWriter(f)
	// The extra files come first: gitleaks stops reading this layer
	// partway through the Go tree, without an error, and the comparison
	// should measure its rules, not only that.
	for _, e := range extra {
		check(tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(e.data)
		check(err)
	}
	check(filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || exclude != "" && strings.HasSuffix(path, exclude) {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		h.Name = prefix + "/" + filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	}))
	check(tw.Close())
	check(f.Close())
	return newFileLayer(p)
}

// goTrees writes copies of the Go tree (under usr/local/goN) spread over
// n uncompressed layer files of about equal size, the extra files first:
// a large image of many layers, as -copies makes a few large ones.
func goTrees(dir string, copies, n int, extra []file) []*fileLayer {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	check(err)
	root := strings.TrimSpace(string(out))
	type src struct {
		path string
		fi   os.FileInfo
	}
	var files []src
	var total int64
	check(filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || exclude != "" && strings.HasSuffix(path, exclude) {
			return err
		}
		files = append(files, src{path, fi})
		total += 512 + (fi.Size()+511)/512*512
		return nil
	}))
	left := total * int64(copies) // bytes not yet in a finished layer
	var done []*fileLayer
	var f *os.File
	var tw *tar.Writer
	var size int64
	finish := func() {
		check(tw.Close())
		check(f.Close())
		done = append(done, newFileLayer(f.Name()))
		left -= size
	}
	start := func() {
		f, err = os.Create(filepath.Join(dir, fmt.Sprintf("tree%03d.tar", len(done))))
		check(err)
		tw = tar.NewWriter(f)
		size = 0
	}
	start()
	for _, e := range extra {
		check(tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(e.data)
		check(err)
	}
	for c := 0; c < copies; c++ {
		for _, s := range files {
			if len(done) < n-1 && size >= left/int64(n-len(done)) {
				finish()
				start()
			}
			h, err := tar.FileInfoHeader(s.fi, "")
			check(err)
			rel, _ := filepath.Rel(root, s.path)
			h.Name = fmt.Sprintf("usr/local/go%d/%s", c, filepath.ToSlash(rel))
			check(tw.WriteHeader(h))
			r, err := os.Open(s.path)
			check(err)
			_, err = io.Copy(tw, r)
			r.Close()
			check(err)
			size += 512 + (s.fi.Size()+511)/512*512
		}
	}
	finish()
	return done
}

// fileLayer is an uncompressed layer read from a file each time, so that
// the image holds it uncompressed, as docker save writes layers.
type fileLayer struct {
	path string
	h    v1.Hash
	size int64
}

func newFileLayer(p string) *fileLayer {
	f, err := os.Open(p)
	check(err)
	defer f.Close()
	h, n, err := v1.SHA256(f)
	check(err)
	return &fileLayer{path: p, h: h, size: n}
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.h, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.h, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return types.DockerUncompressedLayer, nil }

func build(dir string, copies, nlayers int, gzipped, noArchive bool) {
	if dir == "" {
		fail("build: -dir is required")
	}
	check(os.MkdirAll(dir, 0o755))
	id, err := age.GenerateX25519Identity()
	check(err)
	check(os.WriteFile(filepath.Join(dir, "key.txt"), []byte(id.String()+"\n"), 0o600))

	// Strong enough to fingerprint (see internal/fingerprint), so that a
	// keyless audit searches the same values as a keyed one.
	dbPass := random(alnum, 40)
	apiKey := random(alnum, 40)
	envVal := random(alnum, 40)
	b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	check(err)
	b.Set("DB_PASSWORD", []byte(dbPass))
	b.Set("API_KEY", []byte(apiKey))
	b.Set("SESSION_SECRET", []byte(envVal))
	salt, err := fingerprint.NewSalt()
	check(err)
	b.Fingerprint(author.Fingerprinter{Salt: salt.String(), Make: fingerprint.Maker(salt)})
	sealed, err := b.Marshal()
	check(err)
	check(os.WriteFile(filepath.Join(dir, "bundle.env"), sealed, 0o644))

	gh := "ghp_" + random(alnum, 36)
	aws := "AKIA" + random("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	slack := "xoxb-" + random("0123456789", 12) + "-" + random("0123456789", 12) + "-" + random(alnum, 24)
	stripe := "sk_live_" + random(alnum, 32)
	npm := "npm_" + random(alnum, 36)
	pemBody := random(alnum+"+/", 64) + "\n" + random(alnum+"+/", 64) + "\n" + random(alnum+"+/", 40)
	pem := "-----BEGIN RSA PRIVATE KEY-----\n" + pemBody + "\n-----END RSA PRIVATE KEY-----\n"
	gl := "glpat-" + random(alnum, 20)
	b64 := base64.StdEncoding.EncodeToString([]byte(apiKey))
	hx := hex.EncodeToString([]byte(dbPass))
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx" + random(alnum, 30) + "." + random(alnum, 43)

	var zipBuf bytes.Buffer
	zw := zip.NewWriter(&zipBuf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "config/aws.properties", Method: zip.Deflate})
	fmt.Fprintf(w, "aws.accessKeyId=%s\n", aws)
	zw.Close()

	planted := []Planted{
		{ID: "known value, raw, in a properties file", Values: []string{dbPass}, Path: "srv/app/application.properties"},
		{ID: "known value, base64", Values: []string{apiKey, b64}, Path: "srv/app/token.b64"},
		{ID: "known value, hex", Values: []string{dbPass, hx}, Path: "srv/app/seed.hex"},
		{ID: "GitHub token", Values: []string{gh}, Path: "srv/app/deploy.sh"},
		{ID: "GitLab token in a .env file", Values: []string{gl}, Path: "srv/app/.env"},
		{ID: "AWS key in a jar", Values: []string{aws}, Path: "srv/app/lib/app.jar!/config/aws.properties"},
		{ID: "Slack token in a tar.gz", Values: []string{slack}, Path: "srv/app/backup.tar.gz!/slack.txt"},
		{ID: "private key deleted by a later layer", Values: []string{pemBody[:64]}, Path: "root/.ssh/id_rsa"},
		{ID: "Stripe key in a zstd layer", Values: []string{stripe}, Path: "srv/billing/billing.conf"},
		{ID: "JWT in a JSON file", Values: []string{jwt}, Path: "srv/app/fixtures.json"},
		{ID: "known value in config Env", Values: []string{envVal}, Field: "Env"},
		{ID: "npm token as a build arg in history", Values: []string{npm}, Field: "history[0]"},
	}
	appFiles := []file{
		{"srv/app/application.properties", []byte("spring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.password=" + dbPass + "\n")},
		{"srv/app/token.b64", []byte(b64 + "\n")},
		{"srv/app/seed.hex", []byte(hx + "\n")},
		{"srv/app/deploy.sh", []byte("#!/bin/sh\ncurl -H 'Authorization: token " + gh + "' https://api.github.com/user\n")},
		{"srv/app/.env", []byte("GITLAB_TOKEN=" + gl + "\n")},
		{"srv/app/lib/app.jar", zipBuf.Bytes()},
		{"srv/app/backup.tar.gz", gz(tarOf(file{"slack.txt", []byte("token=" + slack + "\n")}))},
		{"root/.ssh/id_rsa", []byte(pem)},
		{"srv/app/fixtures.json", []byte(`{"session": "` + jwt + `"}`)},
	}
	enc, _ := zstd.NewWriter(nil)
	billing := tarOf(file{"srv/billing/billing.conf", []byte("stripe_key = " + stripe + "\n")})
	zstdLayer := withDiffID(static.NewLayer(enc.EncodeAll(billing, nil), types.OCILayerZStd), billing)

	// Secrets in the plain, uncompressed layer too, where any scanner that
	// opens a tar can see them.
	gh2 := "ghp_" + random(alnum, 36)
	aws2 := "AKIA" + random("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	slack2 := "xoxp-" + random("0123456789", 12) + "-" + random("0123456789", 12) + "-" + random(alnum, 24)
	stripe2 := "sk_live_" + random(alnum, 32)
	planted = append(planted,
		Planted{ID: "GitHub token, plain layer", Values: []string{gh2}, Path: "etc/ci/github.env"},
		Planted{ID: "AWS key, plain layer", Values: []string{aws2}, Path: "etc/ci/aws.ini"},
		Planted{ID: "Slack token, plain layer", Values: []string{slack2}, Path: "etc/ci/notify.yaml"},
		Planted{ID: "Stripe key, plain layer", Values: []string{stripe2}, Path: "etc/ci/billing.json"},
	)
	plain := []file{
		{"etc/ci/github.env", []byte("export GH_TOKEN=" + gh2 + "\n")},
		{"etc/ci/aws.ini", []byte("[default]\naws_access_key_id = " + aws2 + "\n")},
		{"etc/ci/notify.yaml", []byte("slack:\n  token: " + slack2 + "\n")},
		{"etc/ci/billing.json", []byte(`{"stripe_key": "` + stripe2 + `"}`)},
	}
	appTar := tarOf(appFiles...)
	var layers []v1.Layer
	var trees []*fileLayer
	if nlayers > 0 {
		trees = goTrees(dir, copies, nlayers, plain)
	} else {
		for i := 0; i < copies; i++ {
			var extra []file
			if i == 0 {
				extra = plain
			}
			trees = append(trees, goTree(dir, fmt.Sprintf("usr/local/go%d", i), extra...))
		}
	}
	for _, l := range trees {
		if gzipped {
			layers = append(layers, gzipFileLayer(l))
		} else {
			layers = append(layers, l)
		}
	}
	layers = append(layers,
		withDiffID(static.NewLayer(gz(appTar), types.DockerLayer), appTar),
		zstdLayer,
		static.NewLayer(tarOf(file{"root/.ssh/.wh.id_rsa", nil}), types.DockerUncompressedLayer),
	)
	img, err := mutate.AppendLayers(empty.Image, layers...)
	check(err)
	cf, err := img.ConfigFile()
	check(err)
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"PATH=/usr/local/go0/bin:/usr/bin", "SESSION_SECRET=" + envVal}
	cf.Config.Labels = map[string]string{"maintainer": "platform"}
	cf.History = []v1.History{{CreatedBy: "RUN |1 NPM_TOKEN=" + npm + " /bin/sh -c npm ci"}}
	img, err = mutate.ConfigFile(img, cf)
	check(err)
	if !noArchive {
		tag, _ := name.NewTag("bench.local/app:1")
		check(tarball.WriteToFile(filepath.Join(dir, "image.tar"), tag, img))
	}
	// The same image as an OCI layout (oci:DIR/layout), whose blobs are
	// named by digest: the verdict cache keys on them.
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	check(err)
	check(lp.AppendImage(img))
	for _, l := range trees {
		os.Remove(l.path)
		os.Remove(l.path + ".gz")
	}
	pj, _ := json.MarshalIndent(planted, "", "  ")
	check(os.WriteFile(filepath.Join(dir, "planted.json"), pj, 0o600))
}

func score(dir, sePath, glPath string) {
	var planted []Planted
	readJSON(filepath.Join(dir, "planted.json"), &planted)
	var se struct {
		Findings []struct {
			Path, Field string
		}
	}
	readJSON(sePath, &se)
	var gl []struct {
		Secret, Match, File string
	}
	readJSON(glPath, &gl)
	var seN, glN int
	fmt.Printf("%-42s %-8s %-8s\n", "planted secret", "sealenv", "gitleaks")
	for _, p := range planted {
		seHit := false
		for _, f := range se.Findings {
			if p.Path != "" && f.Path == p.Path || p.Field != "" && strings.Contains(f.Field, p.Field) {
				seHit = true
			}
		}
		glHit := false
		for _, f := range gl {
			for _, v := range p.Values {
				if strings.Contains(f.Match, v) || strings.Contains(f.Secret, v) || len(f.Secret) >= 12 && strings.Contains(v, f.Secret) {
					glHit = true
				}
			}
		}
		if seHit {
			seN++
		}
		if glHit {
			glN++
		}
		fmt.Printf("%-42s %-8s %-8s\n", p.ID, yes(seHit), yes(glHit))
	}
	fmt.Printf("recall: sealenv %d/%d, gitleaks %d/%d\n", seN, len(planted), glN, len(planted))
}

func yes(b bool) string {
	if b {
		return "found"
	}
	return "MISSED"
}

func readJSON(p string, v any) {
	b, err := os.ReadFile(p)
	check(err)
	check(json.Unmarshal(b, v))
}

// gzipFileLayer compresses an uncompressed file layer with gzip's default
// level, as docker push and BuildKit do.
func gzipFileLayer(l *fileLayer) *gzLayer {
	in, err := os.Open(l.path)
	check(err)
	defer in.Close()
	out, err := os.Create(l.path + ".gz")
	check(err)
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	check(err)
	check(zw.Close())
	check(out.Close())
	g := newFileLayer(l.path + ".gz")
	return &gzLayer{fileLayer: g, diff: l.h}
}

type gzLayer struct {
	*fileLayer
	diff v1.Hash
}

func (l *gzLayer) DiffID() (v1.Hash, error)            { return l.diff, nil }
func (l *gzLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// withDiffID gives a compressed static layer the diff ID of its tar, as
// docker load checks it (static layers report their compressed digest).
func withDiffID(l v1.Layer, plain []byte) v1.Layer {
	h, _, err := v1.SHA256(bytes.NewReader(plain))
	check(err)
	return diffLayer{l, h}
}

type diffLayer struct {
	v1.Layer
	diff v1.Hash
}

func (l diffLayer) DiffID() (v1.Hash, error) { return l.diff, nil }
