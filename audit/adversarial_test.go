package audit

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/ulikunitz/xz"
)

func mustTag(t *testing.T, s string) name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func sha512Hash(b []byte) v1.Hash {
	s := sha512.Sum512(b)
	return v1.Hash{Algorithm: "sha512", Hex: hex.EncodeToString(s[:])}
}

// writeBlob writes b into the layout dir by its sha256 digest.
func writeBlob(t *testing.T, dir string, b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// The adversarial corpus: hand-built layers that hide a secret where a
// walker that trusts structure would not look. Each case must be a finding
// with the right place, or incomplete with the reason; its clean twin (the
// same structure, a harmless value) must be clean. Everything is made at
// test time from generated values.

// rawHdr is one ustar header block, written by hand so that every field
// can hold what a crafted image puts there.
type rawHdr struct {
	name, linkname, uname, gname string
	flag                         byte
	size                         int64
	magic                        string // default "ustar\x0000"
}

func (h rawHdr) block() []byte {
	b := make([]byte, 512)
	copy(b[0:100], h.name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", h.size))
	copy(b[136:148], "00000000000\x00")
	b[156] = h.flag
	copy(b[157:257], h.linkname)
	magic := h.magic
	if magic == "" {
		magic = "ustar\x0000"
	}
	copy(b[257:265], magic)
	copy(b[265:297], h.uname)
	copy(b[297:329], h.gname)
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func pad512(b []byte) []byte {
	return append(b, make([]byte, (512-len(b)%512)%512)...)
}

// rawEntry is a header and its data, padded.
func rawEntry(h rawHdr, data []byte) []byte {
	if h.flag == 0 {
		h.flag = '0'
	}
	if h.size == 0 {
		h.size = int64(len(data))
	}
	return append(h.block(), pad512(append([]byte(nil), data...))...)
}

// paxEntry is a PAX extended header with the records given in order.
func paxEntry(kv ...string) []byte {
	var data []byte
	for i := 0; i+1 < len(kv); i += 2 {
		rec := " " + kv[i] + "=" + kv[i+1] + "\n"
		n := len(rec)
		for len(strconv.Itoa(n))+len(rec) != n {
			n = len(strconv.Itoa(n)) + len(rec)
		}
		data = append(data, strconv.Itoa(n)+rec...)
	}
	return rawEntry(rawHdr{name: "PaxHeaders/x", flag: 'x'}, data)
}

func tarEnd() []byte { return make([]byte, 1024) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// zipLocal is a zip holding one stored entry, by its local header only (no
// central directory), as a crafted file would start.
func zipLocal(name string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("PK\x03\x04")
	b.Write([]byte{20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	le32 := func(n int) { b.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}) }
	le32(len(data))
	le32(len(data))
	b.Write([]byte{byte(len(name)), byte(len(name) >> 8), 0, 0})
	b.WriteString(name)
	b.Write(data)
	return b.Bytes()
}

type advCase struct {
	name string
	// layer builds the layer (uncompressed tar bytes) around secret s.
	layer func(t *testing.T, s string) []byte
	comp  string // "none" (default), "gzip"
	opts  Options
	// want: a finding at path with part, or incomplete with reason.
	path, part string
	incomplete string
}

func adversarialCases(t *testing.T) []advCase {
	nested := func(levels int, s string) []byte {
		data := []byte(s)
		name := "secret.txt"
		for i := 0; i < levels; i++ {
			data = gz(t, tarBytes(t, file{name, data}))
			name = fmt.Sprintf("level%d.tar.gz", i)
		}
		return tarBytes(t, file{"deep.tar.gz", data})
	}
	zips := func(levels int, s string) []byte {
		data := []byte(s)
		name := "secret.txt"
		for i := 0; i < levels; i++ {
			data = zipBytes(t, file{name, data})
			name = fmt.Sprintf("level%d.zip", i)
		}
		return tarBytes(t, file{"deep.zip", data})
	}
	return []advCase{
		{name: "zip local header then plaintext", path: "x.bin", layer: func(t *testing.T, s string) []byte {
			return tarBytes(t, file{"x.bin", append(zipLocal("a", []byte("hello")), []byte("\n"+s+"\n")...)})
		}},
		{name: "tar then plaintext in a file", path: "x.tar", part: "trailer", layer: func(t *testing.T, s string) []byte {
			return tarBytes(t, file{"x.tar", append(tarBytes(t, file{"a", []byte("hello")}), []byte(s)...)})
		}},
		{name: "after the end-of-archive marker", path: "", part: "trailer", layer: func(t *testing.T, s string) []byte {
			return append(tarBytes(t, file{"a", []byte("hello")}), []byte(s)...)
		}},
		{name: "after the end-of-archive marker, gzip", comp: "gzip", path: "", part: "trailer", layer: func(t *testing.T, s string) []byte {
			return append(tarBytes(t, file{"a", []byte("hello")}), []byte(s)...)
		}},
		{name: "in a whiteout entry", path: "etc/.wh.passwd", part: "data", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "etc/.wh.passwd"}, []byte(s)), tarEnd())
		}},
		{name: "compressed in a whiteout entry", path: "etc/.wh.passwd", part: "data", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "etc/.wh.passwd"}, gz(t, []byte(s))), tarEnd())
		}},
		{name: "contiguous file (type 7)", path: "data.bin", part: "data", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "data.bin", flag: '7'}, []byte(s)), tarEnd())
		}},
		{name: "vendor type Z", path: "data.bin", part: "data", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "data.bin", flag: 'Z'}, []byte(s)), tarEnd())
		}},
		{name: "PAX record", path: "a.txt", part: "pax", layer: func(t *testing.T, s string) []byte {
			return cat(paxEntry("comment", s), rawEntry(rawHdr{name: "a.txt"}, []byte("hello")), tarEnd())
		}},
		{name: "xattr", path: "a.txt", part: "xattr", layer: func(t *testing.T, s string) []byte {
			return cat(paxEntry("SCHILY.xattr.user.note", s), rawEntry(rawHdr{name: "a.txt"}, []byte("hello")), tarEnd())
		}},
		{name: "symlink target", path: "link", part: "linkname", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "link", flag: '2', linkname: s}, nil), tarEnd())
		}},
		{name: "hardlink target", path: "hard", part: "linkname", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "a.txt"}, []byte("x")), rawEntry(rawHdr{name: "hard", flag: '1', linkname: s}, nil), tarEnd())
		}},
		{name: "file name", part: "name", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "dir/" + s}, []byte("x")), tarEnd())
		}},
		{name: "PAX path", part: "name", layer: func(t *testing.T, s string) []byte {
			return cat(paxEntry("path", "dir/"+s+"/"+strings.Repeat("n", 90)), rawEntry(rawHdr{name: "short"}, []byte("x")), tarEnd())
		}},
		{name: "uname", path: "a.txt", part: "header", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "a.txt", uname: s[:min(len(s), 31)]}, []byte("x")), tarEnd())
		}},
		{name: "gname", path: "a.txt", part: "header", layer: func(t *testing.T, s string) []byte {
			return cat(rawEntry(rawHdr{name: "a.txt", gname: s[:min(len(s), 31)]}, []byte("x")), tarEnd())
		}},
		{name: "padding after data", path: "a.txt", part: "padding", layer: func(t *testing.T, s string) []byte {
			e := rawEntry(rawHdr{name: "a.txt", size: 5}, []byte("hello"))
			copy(e[512+5:], " "+s)
			return cat(e, tarEnd())
		}},
		{name: "five tar.gz in one another", incomplete: "nested deeper than the depth limit", layer: func(t *testing.T, s string) []byte {
			return nested(5, s)
		}},
		{name: "eight zips in one another", incomplete: "nested deeper than the depth limit", layer: func(t *testing.T, s string) []byte {
			return zips(9, s)
		}},
		{name: "depth limit lowered", opts: Options{MaxDepth: 2}, incomplete: "nested deeper than the depth limit", layer: func(t *testing.T, s string) []byte {
			return nested(2, s)
		}},
		{name: "gzip of a tar with trailing data inside a zip", path: "app.zip!/inner.tgz", part: "trailer", layer: func(t *testing.T, s string) []byte {
			inner := gz(t, append(tarBytes(t, file{"a", []byte("hello")}), []byte(s)...))
			return tarBytes(t, file{"app.zip", zipBytes(t, file{"inner.tgz", inner})})
		}},
		{name: "zip stream entry then plaintext", path: "lib.jar", layer: func(t *testing.T, s string) []byte {
			return tarBytes(t, file{"lib.jar", append(zipBytes(t, file{"a", []byte("hello")}), []byte(s)...)})
		}},
		{name: "sparse file of 9e18 bytes", incomplete: "a sparse file of 9000000000000000000 bytes", layer: func(t *testing.T, s string) []byte {
			return sparseTar(t, 9e18, []byte(s))
		}},
		{name: "malformed sparse map", incomplete: "not a tar archive that reads to its end", layer: func(t *testing.T, s string) []byte {
			return sparseTarMap(t, 1<<20, "1\nzero\n8\n", []byte(s))
		}},
		{name: "data after the gzip stream", comp: "gzip+trailer", incomplete: "gzip", layer: func(t *testing.T, s string) []byte {
			return tarBytes(t, file{"a.txt", []byte(s)})
		}},
	}
}

// sparseTar is a tar with one PAX (GNU 1.0) sparse file of the given
// logical size whose one data fragment is data.
func sparseTar(t testing.TB, size int64, data []byte) []byte {
	return sparseTarMap(t, size, "1\n0\n"+strconv.Itoa(len(data))+"\n", data)
}

func sparseTarMap(t testing.TB, size int64, sparseMap string, data []byte) []byte {
	frag := pad512(append([]byte(nil), data...))
	return cat(
		paxEntry("GNU.sparse.major", "1", "GNU.sparse.minor", "0", "GNU.sparse.name", "big.img", "GNU.sparse.realsize", strconv.FormatInt(size, 10)),
		rawEntry(rawHdr{name: "GNUSparseFile.0/big.img", size: int64(512 + len(frag))}, cat(pad512([]byte(sparseMap)), frag)),
		tarEnd(),
	)
}

// auditLayout audits an image of one layer in an OCI layout.
func auditLayer(t *testing.T, b []byte, comp string, opts Options) (*Report, error) {
	t.Helper()
	var l v1.Layer
	switch comp {
	case "gzip":
		l = layer(gz(t, b), "gzip")
	case "gzip+trailer":
		l = layer(append(gz(t, b), []byte("trailing bytes")...), "gzip")
	default:
		l = layer(b, "none")
	}
	img := image(t, v1.Config{}, nil, l)
	return imageAt(context.Background(), "oci:"+writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})), opts)
}

func TestAdversarialLayers(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	val := randString(t, alnum, 24)
	harmless := strings.Repeat("h", 40)
	for _, c := range adversarialCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, secret := range []struct {
				s    string
				opts Options
				rule string
			}{
				{tok, c.opts, "github-token"},
				{val, withValues(c.opts, Value{Name: "SEALED", Value: []byte(val)}), "sealed-value"},
			} {
				if c.part == "header" && secret.s == tok {
					continue // uname and gname hold 32 bytes, a token 40
				}
				r, err := auditLayer(t, c.layer(t, secret.s), c.comp, secret.opts)
				if err != nil {
					t.Fatal(err)
				}
				js, _ := json.Marshal(r)
				if bytes.Contains(js, []byte(secret.s)) {
					t.Fatal("the report holds the secret")
				}
				if c.incomplete != "" {
					if r.Coverage.Complete || r.Clean() || !strings.Contains(strings.Join(r.Coverage.Errors, "\n"), c.incomplete) {
						t.Fatalf("%s: want incomplete with %q, got complete=%v errors=%q", secret.rule, c.incomplete, r.Coverage.Complete, r.Coverage.Errors)
					}
					continue
				}
				if !r.Coverage.Complete {
					t.Fatalf("%s: incomplete: %q", secret.rule, r.Coverage.Errors)
				}
				ok := false
				for _, f := range r.Findings {
					if f.Rule == secret.rule && (c.path == "" || f.Path == c.path) && (c.part == "" || f.Part == c.part) {
						ok = true
					}
				}
				if !ok {
					t.Fatalf("%s: no finding at path %q part %q: %s", secret.rule, c.path, c.part, js)
				}
			}
			// The clean twin.
			r, err := auditLayer(t, c.layer(t, harmless), c.comp, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.incomplete != "" {
				if r.Coverage.Complete {
					t.Fatal("the clean twin of an incomplete case is complete")
				}
				return
			}
			if !r.Clean() {
				js, _ := json.Marshal(r)
				t.Fatalf("clean twin not clean: %s", js)
			}
		})
	}
}

func withValues(o Options, v ...Value) Options {
	o.Values = append(o.Values, v...)
	return o
}

// Within the limits, the same nesting is opened and complete.
func TestDepthWithinLimit(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	data := []byte(tok)
	name := "secret.txt"
	for i := 0; i < 3; i++ { // 3 tar.gz: depth 6 of 8
		data = gz(t, tarBytes(t, file{name, data}))
		name = fmt.Sprintf("level%d.tar.gz", i)
	}
	r, err := auditLayer(t, tarBytes(t, file{"deep.tar.gz", data}), "none", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Coverage.Complete || len(r.Findings) != 1 || r.Findings[0].Path != "deep.tar.gz!/level1.tar.gz!/level0.tar.gz!/secret.txt" {
		t.Fatalf("%+v %s", r.Coverage, dump(t, r))
	}
}

// A docker-archive whose index.json and manifest.json describe different
// images: docker load reads manifest.json, so both are audited.
func TestTwoViews(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	clean := image(t, v1.Config{}, nil, tarLayer(t, "none", file{"a.txt", []byte("nothing")}))
	dirty := image(t, v1.Config{}, nil, tarLayer(t, "none", file{"a.txt", []byte(tok)}))
	dir := t.TempDir()
	// Write the dirty image as docker save does, then put an OCI index of
	// the clean image beside its manifest.json.
	p := filepath.Join(dir, "img.tar")
	if err := tarball.WriteToFile(p, mustTag(t, "example.com/app:1"), dirty); err != nil {
		t.Fatal(err)
	}
	layoutDir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: clean}))
	old, _ := os.ReadFile(p)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(old))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b := new(bytes.Buffer)
		b.ReadFrom(tr)
		tw.WriteHeader(h)
		tw.Write(b.Bytes())
	}
	filepath.Walk(layoutDir, func(fp string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(layoutDir, fp)
		b, _ := os.ReadFile(fp)
		tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
		return nil
	})
	tw.Close()
	os.WriteFile(p, out.Bytes(), 0o644)
	r, err := imageAt(context.Background(), "docker-archive:"+p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) == 0 || r.Coverage.Images != 2 || len(r.Coverage.Notes) == 0 {
		t.Fatalf("%+v %s", r.Coverage, dump(t, r))
	}
}

// An image archive that holds one name twice cannot be audited: docker
// load would take one, the audit cannot know which.
func TestDuplicateArchiveEntries(t *testing.T) {
	t.Parallel()
	img := image(t, v1.Config{}, nil, tarLayer(t, "none", file{"a.txt", []byte("nothing")}))
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(p, mustTag(t, "example.com/app:1"), img); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	b = bytes.TrimRight(b, "\x00")
	b = pad512(b)
	b = append(b, rawEntry(rawHdr{name: "manifest.json"}, []byte("[]"))...)
	b = append(b, tarEnd()...)
	os.WriteFile(p, b, 0o644)
	if _, err := imageAt(context.Background(), "docker-archive:"+p, Options{}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("got %v", err)
	}
}

// A layer behind a sha512 digest is verified; an algorithm the OCI spec
// does not register cannot be, and is incomplete.
func TestDigestAlgorithms(t *testing.T) {
	t.Parallel()
	body := tarBytes(t, file{"a.txt", []byte("hello")})
	for _, c := range []struct {
		name     string
		digest   func() v1.Hash
		complete bool
	}{
		{"sha512", func() v1.Hash { return sha512Hash(body) }, true},
		{"sha512 altered", func() v1.Hash { h := sha512Hash(append([]byte("x"), body...)); return h }, false},
		{"unknown algorithm", func() v1.Hash { return v1.Hash{Algorithm: "blake3", Hex: strings.Repeat("ab", 32)} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			d := c.digest()
			os.MkdirAll(filepath.Join(dir, "blobs", d.Algorithm), 0o755)
			os.WriteFile(filepath.Join(dir, "blobs", d.Algorithm, d.Hex), body, 0o644)
			cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + d.String() + `"]}}`)
			ch := writeBlob(t, dir, cfg)
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`, ch, len(cfg), d, len(body))
			mh := writeBlob(t, dir, []byte(m))
			idx := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}]}`, mh, len(m))
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(idx), 0o644)
			os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
			r, err := imageAt(context.Background(), "oci:"+dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Coverage.Complete != c.complete {
				t.Fatalf("complete=%v, want %v: %q", r.Coverage.Complete, c.complete, r.Coverage.Errors)
			}
		})
	}
}

// SIGINT and SIGTERM stop any audit within a second: here a sparse file
// whose content is an archive of a terabyte of holes.
func TestCancelStopsLongWalk(t *testing.T) {
	inner := rawHdr{name: "inner", size: 1 << 39}.block() // a tar entry of 512 GiB of zeros
	b := sparseTar(t, 1<<40-1, inner)
	img := image(t, v1.Config{}, nil, layer(b, "none"))
	dir := writeLayout(t, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := imageAt(ctx, "oci:"+dir, Options{})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the audit ended before the cancel (%v): the case does not run long", err)
	default:
	}
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled audit returned a report")
		}
		t.Logf("stopped %v after the cancel", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the audit did not stop within 5 s of the cancel")
	}
}

// Every tar of Go's archive/tar test data that archive/tar reads to its
// end is walked to its end here too: the header parser that places hits
// agrees with archive/tar on GNU, PAX, sparse and base-256 headers.
func TestGoTarTestdata(t *testing.T) {
	t.Parallel()
	paths, _ := filepath.Glob(filepath.Join(goroot(t), "src", "archive", "tar", "testdata", "*.tar"))
	if len(paths) == 0 {
		t.Skip("no archive/tar test data in GOROOT")
	}
	d := defaultDetectors(nil)
	w := newWalker(d, testLimits(8))
	walked := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(bytes.NewReader(b))
		ok := true
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				ok = false
				break
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		walked++
		res, err := w.layer(context.Background(), bytes.NewReader(b), v1.Hash{})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		noMarker := len(bytes.Trim(b[len(b)-512:], "\x00")) > 0
		for _, e := range res.incomplete {
			if noMarker && strings.Contains(e, "no end-of-archive marker") {
				continue // this test archive has none: truncated, for a layer
			}
			if strings.Contains(e, "do not parse") || strings.Contains(e, "not a tar archive") {
				t.Errorf("%s: %s", filepath.Base(p), e)
			}
		}
	}
	t.Logf("%d of %d archives walked", walked, len(paths))
}

// A file compressed with each format the audit reads, inside a layer, is
// searched decompressed to its end (made by the real gzip, zstd, bzip2 and
// xz tools where the machine has them, else by the Go encoders).
func TestNestedCompressions(t *testing.T) {
	t.Parallel()
	tok := "ghp_" + randString(t, alnum, 36)
	content := append(bytes.Repeat([]byte("lorem ipsum dolor sit amet\n"), 40000), []byte("token: "+tok+"\n")...)
	for _, c := range []struct {
		ext  string
		tool []string
	}{{"gz", []string{"gzip", "-c"}}, {"zst", []string{"zstd", "-q", "-c"}}, {"bz2", []string{"bzip2", "-c"}}, {"xz", []string{"xz", "-c"}}} {
		t.Run(c.ext, func(t *testing.T) {
			var comp []byte
			if path, err := exec.LookPath(c.tool[0]); err == nil {
				cmd := exec.Command(path, c.tool[1:]...)
				cmd.Stdin = bytes.NewReader(content)
				if comp, err = cmd.Output(); err != nil {
					t.Fatal(err)
				}
			} else {
				switch c.ext {
				case "gz":
					comp = gz(t, content)
				case "zst":
					comp = zst(t, content)
				case "xz":
					var b bytes.Buffer
					w, _ := xz.NewWriter(&b)
					w.Write(content)
					w.Close()
					comp = b.Bytes()
				default:
					t.Skipf("%s not found and Go has no %s encoder", c.tool[0], c.ext)
				}
			}
			name := "data/log.txt." + c.ext
			r, err := auditLayer(t, tarBytes(t, file{name, comp}), "none", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Coverage.Complete || len(r.Coverage.Notes) != 0 {
				t.Fatalf("coverage %+v", r.Coverage)
			}
			if len(r.Findings) != 1 || r.Findings[0].Path != name || r.Findings[0].Rule != "github-token" || *r.Findings[0].Offset != int64(len(content)-len(tok)-1) {
				t.Fatalf("%s", dump(t, r))
			}
		})
	}
}
