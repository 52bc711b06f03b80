package audit

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzLayer plants a known value at any place of any bytes taken as a
// layer, and asserts the invariant: whatever the structure, the value is
// found (every byte is searched as stored); a layer the walker calls
// complete was read to its end; and no input runs past a deadline (every
// loop honours cancellation, holes are not read byte by byte).
func FuzzLayer(f *testing.F) {
	tok := "ghp_" + randString(f, alnum, 36)
	f.Add(tarBytes(f, file{"a.txt", []byte(tok)}), uint32(600))
	f.Add(gz(f, tarBytes(f, file{"a.txt", []byte(tok)}, file{"b/.wh.c", nil})), uint32(30))
	f.Add(tarBytes(f, file{"x.jar", zipBytes(f, file{"y", []byte(tok)})}), uint32(700))
	f.Add(tarBytes(f, file{"x.tgz", gz(f, tarBytes(f, file{"y", []byte(tok)}))}), uint32(0))
	f.Add(append(tarBytes(f, file{"a", nil}), "trailing"...), uint32(1030))
	f.Add(sparseTar(f, 1<<40, rawHdr{name: "inner", size: 1 << 39}.block()), uint32(1536))
	f.Add(cat(paxEntry("SCHILY.xattr.user.x", "v"), rawEntry(rawHdr{name: "a", flag: '2', linkname: "b"}, nil), tarEnd()), uint32(512))
	for _, seed := range decoderSeeds(f, tok) {
		f.Add(tarBytes(f, seed), uint32(len(seed.data)/2))
	}
	v := []byte(randString(f, alnum, 16))
	d := defaultDetectors([]Value{{Name: "V", Value: v}})
	lim := limits{depth: 4, sparse: 64 << 20, check: 1 << 20, window: 16 << 20, buffer: 16 << 20}
	pool := sync.Pool{New: func() any { return newWalker(d, lim) }}
	f.Fuzz(func(t *testing.T, b []byte, at uint32) {
		b = append([]byte(nil), b...)
		if len(b) >= len(v) {
			copy(b[int(at)%(len(b)-len(v)+1):], v)
		}
		w := pool.Get().(*walker)
		defer pool.Put(w)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cr := &countingReader{r: bytes.NewReader(b)}
		res, err := w.layer(ctx, cr, v1.Hash{})
		if ctx.Err() != nil {
			t.Fatalf("stalled: %d-byte input still running after 5 s", len(b))
		}
		if len(b) < len(v) {
			return
		}
		if err == nil && len(res.incomplete) == 0 && cr.n != int64(len(b)) {
			t.Fatalf("complete, but read %d of %d bytes", cr.n, len(b))
		}
		if res == nil {
			if cr.n == int64(len(b)) {
				t.Fatalf("read to the end, but no result: %v", err)
			}
			return
		}
		found := false
		for _, h := range res.hits {
			if h.Name == "V" {
				found = true
			}
		}
		if !found && cr.n == int64(len(b)) {
			t.Fatalf("planted value at %d not found (err %v, incomplete %q)", int(at)%(len(b)-len(v)+1), err, res.incomplete)
		}
	})
}

// decoderSeeds are files in every format the walker decodes, made by the
// real tools where the machine has them (a seed whose tool is missing is
// left out: the seeds are a start, the fuzzer mutates them).
func decoderSeeds(f *testing.F, tok string) []file {
	body := []byte("settings\nGITHUB_TOKEN=" + tok + "\n")
	var out []file
	try := func(name string, mk func() ([]byte, error)) {
		if b, err := mk(); err == nil && len(b) > 0 {
			out = append(out, file{name, b})
		}
	}
	tool := func(dir string, stdin []byte, name string, args ...string) ([]byte, error) {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(p, args...)
		cmd.Dir = dir
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		return cmd.Output()
	}
	try("a.js.br", func() ([]byte, error) { return tool("", body, "brotli", "-c") })
	try("a.lzma", func() ([]byte, error) { return tool("", body, "xz", "--format=lzma", "-c") })
	try("a.Z", func() ([]byte, error) { return tool("", bytes.Repeat(body, 50), "compress", "-c") })
	try("a.lz4", func() ([]byte, error) { return tool("", bytes.Repeat(body, 50), "lz4", "-c", "-q", "-BD") })
	dir := f.TempDir()
	os.MkdirAll(filepath.Join(dir, "pkg", "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(dir, "pkg", "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "pkg", "DEBIAN", "control"), []byte("Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: D <d@example.com>\nDescription: demo\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "pkg", "etc", "app.env"), body, 0o644)
	try("demo.deb", func() ([]byte, error) {
		if _, err := tool(dir, nil, "dpkg-deb", "--root-owner-group", "--build", "pkg", "demo.deb"); err != nil {
			return nil, err
		}
		return os.ReadFile(filepath.Join(dir, "demo.deb"))
	})
	try("root.cpio", func() ([]byte, error) {
		return tool(filepath.Join(dir, "pkg"), []byte("etc\netc/app.env\n"), "cpio", "--quiet", "-o", "-H", "newc")
	})
	try("a.7z", func() ([]byte, error) {
		if _, err := tool(filepath.Join(dir, "pkg"), nil, "7zz", "a", "-bd", "-bso0", "../a.7z", "etc"); err != nil {
			return nil, err
		}
		return os.ReadFile(filepath.Join(dir, "a.7z"))
	})
	try("pack-1.pack", func() ([]byte, error) {
		repo := filepath.Join(dir, "repo")
		env := []string{"HOME=" + dir, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=D", "GIT_AUTHOR_EMAIL=d@example.com", "GIT_COMMITTER_NAME=D", "GIT_COMMITTER_EMAIL=d@example.com"}
		for _, args := range [][]string{{"init", "-q", repo}, {"-C", repo, "commit", "-q", "--allow-empty", "-m", "a"}} {
			cmd := exec.Command("git", args...)
			cmd.Env = append(os.Environ(), env...)
			if err := cmd.Run(); err != nil {
				return nil, err
			}
		}
		os.WriteFile(filepath.Join(repo, ".env"), body, 0o644)
		for _, args := range [][]string{{"-C", repo, "add", ".env"}, {"-C", repo, "commit", "-q", "-m", "b"}, {"-C", repo, "gc", "-q"}} {
			cmd := exec.Command("git", args...)
			cmd.Env = append(os.Environ(), env...)
			if err := cmd.Run(); err != nil {
				return nil, err
			}
		}
		packs, _ := filepath.Glob(filepath.Join(repo, ".git", "objects", "pack", "*.pack"))
		if len(packs) == 0 {
			return nil, os.ErrNotExist
		}
		return os.ReadFile(packs[0])
	})
	// rpmbuild takes a second or two; the deb and cpio seeds cover its
	// payload formats.
	return out
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func FuzzBuildArgs(f *testing.F) {
	f.Add("RUN |2 A=b C=d /bin/sh -c x")
	f.Add("|1 TOKEN=")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range buildArgs(s) {
			if kv[0] == "" && kv[1] == "" && !bytes.Contains([]byte(s), []byte("=")) {
				t.Fatal("a pair from nothing")
			}
		}
	})
}

// FuzzHeaders feeds any bytes to the parsers that read a format's header
// from a peeked buffer: none may panic or read past what it was given.
func FuzzHeaders(f *testing.F) {
	if elf, err := os.ReadFile("/proc/self/exe"); err == nil && len(elf) > 4096 {
		f.Add(elf[:4096])
	}
	f.Add([]byte("MZ" + string(make([]byte, 62))))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Add([]byte("\x28\xb5\x2f\xfd\x04\x00"))
	f.Add([]byte("\x11\x1e"))
	f.Add([]byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46\x02\x00\x21\x01\x16\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sniffFormat(b)
		sniffFile("objects/ab/"+strings.Repeat("c", 38), b)
		if i, _ := findSignature(b, len(b)); i >= len(b) {
			t.Fatalf("a signature at %d of %d bytes", i, len(b))
		}
		gitObjectHeader(b)
		parseTree(b, 20)
		parseCommit(b)
	})
}
