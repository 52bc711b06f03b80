// Package release holds the tests of what a release ships: pinned versions
// that agree, `go install ...@VERSION` reporting its version, and (given a
// goreleaser snapshot in SEALENV_DIST, as scripts/release-snapshot.sh runs
// it) the archives against the README's table and its install commands.
package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/wrap"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pinned are the files that name a release, as scripts/set-version.sh lists them.
var pinned = []string{"README.md", "Dockerfile.example", "Dockerfile.inject", "action.yml", "docs/wrap.md", "docs/e2e.md",
	"ci/gitlab/sealenv-audit.yml", ".pre-commit-hooks.yaml", "scripts/pre-commit-sealenv.sh", "docs/release.md"}

// pin matches a release named where a user copies it from.
var pin = regexp.MustCompile(`(sealenv/sealenv@|sealenv-inject:|rev: |VERSION=|releases/download/|/sealenv/sealenv/|default: |SEALENV_HOOK_VERSION:-|--check |git tag -s |refs/tags/)(v[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.]+)?)`)

func pins(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range pinned {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pin.FindAllStringSubmatch(string(data), -1) {
			out[m[2]] = append(out[m[2]], f+": "+m[0])
		}
	}
	return out
}

// TestPinnedVersionsAgree: every file that names a release names the same
// one, so that tagging it is all a release takes.
func TestPinnedVersionsAgree(t *testing.T) {
	got := pins(t, root(t))
	if len(got) != 1 {
		t.Fatalf("the pinned releases disagree: %v", got)
	}
	for v, where := range got {
		seen := map[string]bool{}
		for _, w := range where {
			seen[strings.SplitN(w, ":", 2)[0]] = true
		}
		for _, f := range pinned {
			if !seen[f] {
				t.Errorf("%s names no release (want %s)", f, v)
			}
		}
	}
}

// TestSetVersion: scripts/set-version.sh moves every pin at once, and
// --check tells a tag that is not the pinned version.
func TestSetVersion(t *testing.T) {
	dir := t.TempDir()
	for _, f := range append([]string{"scripts/set-version.sh"}, pinned...) {
		data, err := os.ReadFile(filepath.Join(root(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "scripts", "set-version.sh")
	if out, err := exec.Command("bash", script, "v9.8.7").CombinedOutput(); err != nil {
		t.Fatalf("set-version.sh v9.8.7: %v: %s", err, out)
	}
	if got := pins(t, dir); len(got) != 1 || got["v9.8.7"] == nil {
		t.Errorf("after set-version.sh v9.8.7 the pins are %v", got)
	}
	if err := exec.Command("bash", script, "--check", "v9.8.7").Run(); err != nil {
		t.Errorf("--check v9.8.7 after setting it: %v", err)
	}
	err := exec.Command("bash", script, "--check", "v9.8.8").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("--check of another version: %v, want exit 1", err)
	}
}

// TestGoInstallReportsTheVersion: `go install ...@VERSION` from a module
// proxy (a local one serving this tree as that version) gives an injector
// that reports VERSION and passes sealenv wrap's injector check.
func TestGoInstallReportsTheVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the injector in module mode")
	}
	const version = "v0.0.1-goinstall"
	r := root(t)
	files, err := exec.Command("git", "-C", r, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	proxy := t.TempDir()
	at := filepath.Join(proxy, "github.com", "sealenv", "sealenv", "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := strings.Split(strings.TrimSpace(string(files)), "\n")
	// A directory with a go.mod of its own (a test-only module under
	// testdata) is another module: the go command leaves it out of this
	// module's zip, and refuses a zip that holds it.
	var nested []string
	for _, f := range names {
		if path.Base(f) == "go.mod" && f != "go.mod" {
			nested = append(nested, path.Dir(f)+"/")
		}
	}
files:
	for _, f := range names {
		for _, n := range nested {
			if strings.HasPrefix(f, n) {
				continue files
			}
		}
		data, err := os.ReadFile(filepath.Join(r, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create("github.com/sealenv/sealenv@" + version + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(r, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		version + ".zip":  buf.Bytes(),
		version + ".mod":  gomod,
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-01-02T03:04:05Z"}`),
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "install", "-trimpath", "github.com/sealenv/sealenv/cmd/sealenv-inject@"+version)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=-modcacherw", "GOTOOLCHAIN=local",
		"GOMODCACHE="+t.TempDir(), "GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=",
		// This tree as the module, every dependency from the local module cache.
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(gomodcache)), "cache", "download")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install ...@%s: %v: %s", version, err, out)
	}
	inj := filepath.Join(bin, "sealenv-inject")
	out, err := exec.Command(inj, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "sealenv-inject "+version+"\n") {
		t.Errorf("sealenv-inject --version after go install @%s: %q (%v)", version, out, err)
	}
	data, _ := os.ReadFile(inj)
	if _, err := wrap.CheckInjector(data); err != nil {
		t.Errorf("the go-installed injector fails wrap's check: %v", err)
	}
}

// ---- the snapshot (SEALENV_DIST) ---------------------------------------------

func dist(t *testing.T) (dir, version string) {
	t.Helper()
	dir = os.Getenv("SEALENV_DIST")
	if dir == "" {
		t.Skip("SEALENV_DIST is not set: scripts/release-snapshot.sh runs this against a goreleaser snapshot")
	}
	data, err := os.ReadFile(filepath.Join(dir, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(data, &meta); err != nil || meta.Version == "" {
		t.Fatalf("dist/metadata.json: %v", err)
	}
	return dir, meta.Version
}

// readmeArchives reads the README's archive table: name -> files it holds.
func readmeArchives(t *testing.T, version string) map[string][]string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "<!-- release-archives:")
	if !ok {
		t.Fatal("README.md has no <!-- release-archives: ... --> table")
	}
	docs, _ := filepath.Glob(filepath.Join(root(t), "docs", "*.md"))
	code := regexp.MustCompile("`([^`]+)`")
	out := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(table))
	sc.Scan() // the marker's own line
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "`") {
			continue
		}
		name := strings.Replace(code.FindStringSubmatch(cells[1])[1], "VERSION", version, 1)
		var holds []string
		for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
			if m[1] == "docs/*.md" {
				for _, d := range docs {
					holds = append(holds, "docs/"+filepath.Base(d))
				}
				continue
			}
			holds = append(holds, m[1])
		}
		sort.Strings(holds)
		out[name] = holds
	}
	if len(out) < 9 {
		t.Fatalf("README's archive table has %d rows, want 9", len(out))
	}
	return out
}

// archiveFiles lists the regular files of a .tar.gz or .zip and returns
// the content of the ones named in keep.
func archiveFiles(t *testing.T, path string, keep ...string) ([]string, map[string][]byte) {
	t.Helper()
	want := map[string]bool{}
	for _, k := range keep {
		want[k] = true
	}
	var names []string
	got := map[string][]byte{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			names = append(names, f.Name)
		}
		sort.Strings(names)
		return names, got
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		names = append(names, h.Name)
		if want[h.Name] {
			got[h.Name], _ = io.ReadAll(tr)
		}
	}
	sort.Strings(names)
	return names, got
}

// TestSnapshotArchives: the snapshot has exactly the README's archives, each
// holding exactly what the README says, a checksum line for every archive
// and SBOM, an SBOM per archive, and linux binaries that report the snapshot
// version (the injectors pass wrap's check).
func TestSnapshotArchives(t *testing.T) {
	dir, version := dist(t)
	want := readmeArchives(t, version)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".zip") {
			have[n] = true
			if _, ok := want[n]; !ok {
				t.Errorf("dist has %s, which the README's table does not list", n)
			}
		}
	}
	sums := map[string]string{}
	data, err := os.ReadFile(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 {
			sums[f[1]] = f[0]
		}
	}
	sbom := os.Getenv("SEALENV_NO_SBOM") == ""
	for name, holds := range want {
		if !have[name] {
			t.Errorf("dist lacks %s", name)
			continue
		}
		path := filepath.Join(dir, name)
		keep := []string{}
		if strings.Contains(name, "_linux_"+runtime.GOARCH+".") {
			keep = []string{"sealenv", "sealenv-inject"}
		}
		names, got := archiveFiles(t, path, keep...)
		if strings.Join(names, " ") != strings.Join(holds, " ") {
			t.Errorf("%s holds %v, the README says %v", name, names, holds)
		}
		checkSum(t, dir, name, sums)
		if sbom {
			checkSum(t, dir, name+".sbom.json", sums)
		}
		for bin, b := range got {
			p := filepath.Join(t.TempDir(), bin)
			if err := os.WriteFile(p, b, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(p, "--version").Output()
			if err != nil || !strings.HasPrefix(string(out), bin+" v"+version+"\n") {
				t.Errorf("%s: %s --version: %q (%v), want %s v%s", name, bin, out, err, bin, version)
			}
			if bin == "sealenv-inject" {
				if _, err := wrap.CheckInjector(b); err != nil {
					t.Errorf("%s: the injector fails wrap's check: %v", name, err)
				}
			}
		}
	}
}

func checkSum(t *testing.T, dir, name string, sums map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Errorf("dist lacks %s", name)
		return
	}
	s := sha256.Sum256(data)
	if sums[name] != hex.EncodeToString(s[:]) {
		t.Errorf("checksums.txt: %s is %q, the file's sha256 is %x", name, sums[name], s)
	}
}

// TestReadmeInstallCommands runs the README's archive install commands
// against the snapshot, served as a release folder by file:// URL (cosign
// only when it is installed: the snapshot is not signed).
func TestReadmeInstallCommands(t *testing.T) {
	dir, version := dist(t)
	if runtime.GOOS != "linux" {
		t.Skip("the commands are checked on linux")
	}
	readme, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- install:archive -->\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- install:archive --> sh block")
	}
	script := string(m[1])
	releases := t.TempDir()
	rel := filepath.Join(releases, "v"+version)
	if err := os.Symlink(dir, rel); err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) {
		if !strings.Contains(script, old) {
			t.Fatalf("the README's install commands no longer hold %q", old)
		}
		script = strings.Replace(script, old, new, 1)
	}
	replace("VERSION=v0.1.0 PLATFORM=linux_amd64", "VERSION=v"+version+" PLATFORM=linux_"+runtime.GOARCH)
	replace("BASE=https://github.com/sealenv/sealenv/releases/download/$VERSION", "BASE=file://"+releases+"/$VERSION")
	// The snapshot has no signature to fetch or verify.
	replace(` -O "$BASE/checksums.txt.sigstore.json"`, "")
	script = regexp.MustCompile(`(?m)^cosign verify-blob .*\\\n.*\n`).ReplaceAllString(script, "")
	work := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = []string{"HOME=" + work, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), fmt.Sprintf("sealenv v%s\n", version)) {
		t.Errorf("the README's install commands: %v:\n%s", err, out)
	}
}

// TestWorkflowsPinActions: every action a workflow uses is pinned by a full
// commit digest, with the tag it stands for in a comment.
func TestWorkflowsPinActions(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root(t), ".github", "workflows", "*.yml"))
	if len(files) < 2 {
		t.Fatalf("want the ci and release workflows, found %v", files)
	}
	uses := regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinned := regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	tag := regexp.MustCompile(`^\s+# v\d+(\.\d+)*\b`)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllStringSubmatch(string(data), -1) {
			n++
			if !pinned.MatchString(m[1]) || !tag.MatchString(m[2]) {
				t.Errorf("%s: uses: %s%s: want OWNER/REPO@<40-hex digest> # vTAG", filepath.Base(f), m[1], m[2])
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d uses: lines found; the pattern broke", n)
	}
}
