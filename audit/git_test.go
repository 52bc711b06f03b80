package audit

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// gitRepo is a repository made by the real git in a directory of its own.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T, initArgs ...string) *gitRepo {
	dir := t.TempDir()
	g := &gitRepo{t: t, dir: filepath.Join(dir, "app")}
	os.MkdirAll(g.dir, 0o755)
	g.git(append([]string{"init", "-q", "-b", "main"}, initArgs...)...)
	return g
}

func (g *gitRepo) git(args ...string) string {
	g.t.Helper()
	env := []string{"HOME=" + g.dir, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com"}
	return strings.TrimSpace(string(runTool(g.t, g.dir, nil, env, "git", args...)))
}

func (g *gitRepo) commit(msg string, files ...file) string {
	g.t.Helper()
	writeTree(g.t, g.dir, files...)
	g.git("add", "-A")
	g.git("commit", "-q", "-m", msg)
	return g.git("rev-parse", "HEAD")
}

// layer is the repository's directory as an image layer (COPY . . of a
// project without a .dockerignore), under srv/.
func (g *gitRepo) layer() []byte {
	g.t.Helper()
	var files []file
	filepath.Walk(g.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(g.dir, p)
		files = append(files, file{"srv/" + filepath.ToSlash(rel), b})
		return nil
	})
	return tarBytes(g.t, files...)
}

// history makes the usual history: code, a .env committed with the
// secrets (body), a few changes to a settings file so that git deltifies
// it, then the .env removed with git rm.
func (g *gitRepo) history(body []byte) (added string) {
	settings := text(40<<10, 11)
	g.commit("initial", file{"main.go", []byte("package main\n\nfunc main() {}\n")}, file{"config/settings.txt", settings})
	added = g.commit("add local settings", file{".env", body})
	for i := 0; i < 4; i++ {
		settings = append(settings, []byte("\nline "+strings.Repeat("x", i+1))...)
		g.commit("tune", file{"config/settings.txt", settings})
	}
	g.git("rm", "-q", ".env")
	g.git("commit", "-q", "-m", "remove .env")
	return added
}

// wantGitFinding asserts that a finding of rule names the .env blob, its
// path and the commit that added it.
func wantGitFinding(t *testing.T, r *Report, rule, blob, commit, pathPrefix string) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Rule != rule || f.Git == nil {
			continue
		}
		if f.Git.Object == blob && f.Git.Path == ".env" && f.Git.Commit == commit && strings.HasPrefix(f.Path, pathPrefix) {
			return
		}
	}
	t.Fatalf("no %s finding in blob %q (.env, commit %q) under %s: %s", rule, blob, commit, pathPrefix, dump(t, r))
}

// A .env committed and then removed with git rm stays in the history
// that COPY . . puts in an image: found in its loose object, named by
// object id, path and commit; after git gc, found in the pack, through
// OFS_DELTA and REF_DELTA chains. A clean repository stays clean.
func TestGitHistory(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	g := newGitRepo(t)
	added := g.history(p.env())
	blob := g.git("rev-parse", added+":.env")
	if _, err := os.Stat(filepath.Join(g.dir, ".env")); err == nil {
		t.Fatal("the .env is still in the work tree")
	}

	t.Run("loose objects", func(t *testing.T) {
		r, err := auditLayer(t, g.layer(), "none", p.opts)
		if err != nil {
			t.Fatal(err)
		}
		p.wantBoth(t, r, "srv/.git/objects/")
		for _, rule := range []string{"github-token", "sealed-value"} {
			wantGitFinding(t, r, rule, blob, added, "srv/.git/objects/"+blob[:2]+"/"+blob[2:])
		}
	})

	g.git("gc", "-q", "--aggressive", "--prune=now")
	packs, _ := filepath.Glob(filepath.Join(g.dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("git gc made %d packs", len(packs))
	}
	verify := g.git("verify-pack", "-v", strings.TrimSuffix(packs[0], ".pack")+".idx")
	if !strings.Contains(verify, "chain length = 1") {
		t.Fatalf("git gc made no delta; verify-pack says:\n%s", verify)
	}
	pack := "srv/.git/objects/pack/" + filepath.Base(packs[0])
	t.Run("pack with OFS_DELTA", func(t *testing.T) {
		r, err := auditLayer(t, g.layer(), "none", p.opts)
		if err != nil {
			t.Fatal(err)
		}
		p.wantBoth(t, r, pack+"!/")
		for _, rule := range []string{"github-token", "sealed-value"} {
			wantGitFinding(t, r, rule, blob, added, pack+"!/"+blob)
		}
	})

	// REF_DELTA: git repack without offsets.
	g.git("-c", "repack.usedeltabaseoffset=false", "repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=50")
	packs, _ = filepath.Glob(filepath.Join(g.dir, ".git", "objects", "pack", "*.pack"))
	raw, _ := os.ReadFile(packs[0])
	if refDeltas(t, raw) == 0 {
		t.Fatal("git repack wrote no REF_DELTA")
	}
	pack = "srv/.git/objects/pack/" + filepath.Base(packs[0])
	t.Run("pack with REF_DELTA", func(t *testing.T) {
		r, err := auditLayer(t, g.layer(), "none", p.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range []string{"github-token", "sealed-value"} {
			wantGitFinding(t, r, rule, blob, added, pack+"!/"+blob)
		}
	})

	t.Run("git bundle", func(t *testing.T) {
		g.git("bundle", "create", "-q", "../repo.bundle", "--all")
		b, err := os.ReadFile(filepath.Join(filepath.Dir(g.dir), "repo.bundle"))
		if err != nil {
			t.Fatal(err)
		}
		r := auditFiles(t, p.opts, file{"backup/repo.bundle", b})
		p.wantBoth(t, r, "backup/repo.bundle!/")
		wantGitFinding(t, r, "sealed-value", blob, added, "backup/repo.bundle!/"+blob)
	})

	t.Run("clean repository", func(t *testing.T) {
		c := newGitRepo(t)
		c.history(cleanBody())
		r, err := auditLayer(t, c.layer(), "none", p.opts)
		if err != nil {
			t.Fatal(err)
		}
		wantClean(t, r)
		c.git("gc", "-q", "--aggressive", "--prune=now")
		r, err = auditLayer(t, c.layer(), "none", p.opts)
		if err != nil {
			t.Fatal(err)
		}
		wantClean(t, r)
	})

	t.Run("pack beyond the buffer limit", func(t *testing.T) {
		o := p.opts
		o.MaxBuffer = 1 << 10
		r, err := auditLayer(t, g.layer(), "none", o)
		if err != nil {
			t.Fatal(err)
		}
		wantIncomplete(t, r, pack+": git pack needs to be held whole in memory")
		wantIncomplete(t, r, "beyond the buffer limit of 1 KiB")
	})
}

// A SHA-256 repository (git init --object-format=sha256): its object ids
// are 64 digits, loose and packed alike.
func TestGitSHA256(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	g := newGitRepo(t, "--object-format=sha256")
	added := g.history(p.env())
	blob := g.git("rev-parse", added+":.env")
	if len(blob) != 64 {
		t.Fatalf("git made a %d-digit id", len(blob))
	}
	r, err := auditLayer(t, g.layer(), "none", p.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantGitFinding(t, r, "sealed-value", blob, added, "srv/.git/objects/"+blob[:2]+"/"+blob[2:])
	g.git("gc", "-q", "--aggressive", "--prune=now")
	if r, err = auditLayer(t, g.layer(), "none", p.opts); err != nil {
		t.Fatal(err)
	}
	wantGitFinding(t, r, "github-token", blob, added, "srv/.git/objects/pack/")
}

// refDeltas counts the REF_DELTA objects of a pack, by walking its
// object headers (the pack's own index is not needed).
func refDeltas(t *testing.T, pack []byte) int {
	w := newWalker(defaultDetectors(nil), testLimits(8))
	p := &packReader{w: w, buf: pack, hashLen: 20}
	n := 0
	off := int64(12)
	for i := uint32(0); i < binary.BigEndian.Uint32(pack[8:]); i++ {
		e, err := p.header(off, int64(len(pack)-20))
		if err != nil {
			t.Fatal(err)
		}
		if e.typ == objRefDelta {
			n++
		}
		if off, err = p.zlibEnd(e.data, int64(len(pack)-20)); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// packOf writes a pack of raw entries (header bytes, then the zlib of
// data), with its checksum.
func packOf(entries ...[2][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("PACK\x00\x00\x00\x02")
	binary.Write(&b, binary.BigEndian, uint32(len(entries)))
	for _, e := range entries {
		b.Write(e[0])
		zw := zlib.NewWriter(&b)
		zw.Write(e[1])
		zw.Close()
	}
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// objHeader is a pack object header: type and size.
func objHeader(typ int, size int) []byte {
	c := byte(typ<<4) | byte(size&15)
	size >>= 4
	var out []byte
	for size > 0 {
		out = append(out, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(out, c)
}

func varint(n int64) []byte {
	var out []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}

// A git-delta bomb, a delta of a few bytes that says it builds a 4 GiB
// object, stops at the buffer limit with the audit incomplete, before
// anything that size is allocated.
func TestGitDeltaBomb(t *testing.T) {
	base := []byte("hello, base object\n")
	delta := append(varint(int64(len(base))), varint(4<<30)...)
	for i := 0; i < 16; i++ {
		delta = append(delta, 0x80|0x10|0x20|0x40, 0xff, 0xff, 0xff) // copy 16 MiB (past the base: never reached)
	}
	baseHdr := objHeader(objBlob, len(base))
	var zb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	zw.Write(base)
	zw.Close()
	rel := byte(len(baseHdr) + zb.Len()) // the delta's base is the object before it
	dh := objHeader(objOfsDelta, len(delta))
	pack := packOf([2][]byte{baseHdr, base}, [2][]byte{append(dh, rel), delta})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := auditFiles(t, Options{}, file{"repo/.git/objects/pack/pack-1.pack", pack})
	runtime.ReadMemStats(&after)
	wantIncomplete(t, r, "an object of 4 GiB built from a delta, beyond the buffer limit of 256 MiB")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 128<<20 {
		t.Errorf("the bomb allocated %d MiB", grew>>20)
	}
	// The same pack with a sane delta decodes, and its object is searched.
	tok := "ghp_" + randString(t, alnum, 36)
	good := append(varint(int64(len(base))), varint(int64(len(base)+len(tok)))...)
	good = append(good, 0x80|0x10, byte(len(base)), byte(len(tok)))
	good = append(good, tok...)
	dh = objHeader(objOfsDelta, len(good))
	pack = packOf([2][]byte{baseHdr, base}, [2][]byte{append(dh, rel), good})
	r = auditFiles(t, Options{}, file{"repo/.git/objects/pack/pack-1.pack", pack})
	if !r.Coverage.Complete || len(r.Findings) != 1 || r.Findings[0].Git == nil || r.Findings[0].Git.Type != "blob" {
		t.Fatalf("%+v %s", r.Coverage, dump(t, r))
	}
}
