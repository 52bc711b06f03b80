package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/wrap"
)

// stamp is what a release build passes the linker.
func stamp(v, commit, date string) string {
	const p = "github.com/sealenv/sealenv/internal/version."
	return "-s -w -X " + p + "version=" + v + " -X " + p + "commit=" + commit + " -X " + p + "date=" + date
}

// goBuild builds pkg with ldflags (and more go build flags) into dir and
// returns its path.
func goBuild(t *testing.T, dir, pkg, ldflags string, flags []string, env ...string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	args := append(append([]string{"build"}, flags...), "-ldflags="+ldflags, "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v: %s", pkg, err, b)
	}
	return out
}

func runBinary(t *testing.T, dir string, bin string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, errb.String())
		}
	}
	return out.String(), errb.String()
}

// TestVersionOfBuiltBinaries builds both binaries as a release does (with
// the version stamped by -ldflags -X) and checks that each reports what the
// build was given: --version, version --json, the audit's JSON and SARIF
// reports, and the label of a wrapped image.
func TestVersionOfBuiltBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	const v, commit, date = "v9.8.7-rc.1", "0123456789abcdef0123456789abcdef01234567", "2026-01-02T03:04:05Z"
	dir := t.TempDir()
	// The CLI is built with go test's own settings, so it reuses the build
	// cache (a -trimpath build of sops and its cloud SDKs takes minutes);
	// the injector as a release builds it.
	cliBin := goBuild(t, dir, "github.com/sealenv/sealenv/cmd/sealenv", stamp(v, commit, date), nil)
	inj := goBuild(t, dir, "github.com/sealenv/sealenv/cmd/sealenv-inject", stamp(v, commit, date), []string{"-trimpath"}, "CGO_ENABLED=0")

	if out, _ := runBinary(t, dir, cliBin, "--version"); out != "sealenv "+v+"\n" {
		t.Errorf("sealenv --version = %q, want %q", out, "sealenv "+v+"\n")
	}
	if out, _ := runBinary(t, dir, inj, "--version"); out != "sealenv-inject "+v+"\nsealenv-inject-contract: 3\n" {
		t.Errorf("sealenv-inject --version = %q", out)
	}
	out, _ := runBinary(t, dir, cliBin, "version", "--json")
	var info map[string]any
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("version --json: %v: %q", err, out)
	}
	for k, want := range map[string]any{"version": v, "commit": commit, "date": date, "trimpath": false, "reproducible": false, "injector_contract": 3.0} {
		if info[k] != want {
			t.Errorf("version --json: %s = %v, want %v", k, info[k], want)
		}
	}
	for _, k := range []string{"go_version", "platform", "vcs_modified"} {
		if _, ok := info[k]; !ok {
			t.Errorf("version --json has no %s: %s", k, out)
		}
	}
	if out, _ := runBinary(t, dir, cliBin, "version"); !strings.HasPrefix(out, "sealenv "+v+"\ncommit:") || !strings.Contains(out, commit) {
		t.Errorf("sealenv version = %q", out)
	}

	// The reports and the wrap label carry it.
	img := filepath.Join(dir, "app.tar")
	tool := exec.Command("go", "run", "github.com/sealenv/sealenv/examples/imagetool", "build", inj, img, "/app")
	if b, err := tool.CombinedOutput(); err != nil {
		t.Fatalf("building the image: %s", b)
	}
	out, _ = runBinary(t, dir, cliBin, "audit", "image", "docker-archive:"+img, "--format", "json")
	var rep struct{ Version string }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Version != v {
		t.Errorf("audit JSON version = %q (%v), want %q", rep.Version, err, v)
	}
	out, _ = runBinary(t, dir, cliBin, "audit", "image", "docker-archive:"+img, "--format", "sarif")
	var sarif struct {
		Runs []struct {
			Tool struct{ Driver struct{ Version string } }
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || len(sarif.Runs) != 1 || sarif.Runs[0].Tool.Driver.Version != v {
		t.Errorf("audit SARIF tool.driver.version: %+v (%v), want %q", sarif, err, v)
	}
	recipient := strings.TrimSpace(func() string { o, _ := runBinary(t, dir, cliBin, "keygen", "-o", "key.txt"); return o }())
	runBinary(t, dir, cliBin, "seal", "-r", recipient, "-o", "prod.env")
	runBinary(t, dir, cliBin, "wrap", "docker-archive:"+img, "oci:"+filepath.Join(dir, "out"), "--bundle", "prod.env", "--injector", inj)
	cf, err := layoutImage(t, filepath.Join(dir, "out")).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Labels[wrap.LabelVersion]; got != v {
		t.Errorf("label %s = %q, want %q", wrap.LabelVersion, got, v)
	}
}
