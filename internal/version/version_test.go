package version

import (
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func settings(kv ...string) []debug.BuildSetting {
	var out []debug.BuildSetting
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		bi                     *debug.BuildInfo
		stampV, stampC, stampD string
		wantVersion            string
		wantCommit             string
		wantPlatform           string
		wantReproducible       bool
		wantModified           string // "", "true", "false"
	}{
		{
			name:        "no build info",
			wantVersion: "dev",
		},
		{
			name:        "local build without VCS",
			bi:          &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}, Settings: settings("GOOS", "linux", "GOARCH", "amd64")},
			wantVersion: "dev", wantPlatform: "linux/amd64",
		},
		{
			name: "go install at a tag",
			bi: &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.2.3", Sum: "h1:abc="},
				Settings: settings("-trimpath", "true", "GOOS", "darwin", "GOARCH", "arm64")},
			wantVersion: "v1.2.3", wantPlatform: "darwin/arm64", wantReproducible: true,
		},
		{
			name:        "go install without -trimpath is not reproducible",
			bi:          &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.2.3", Sum: "h1:abc="}},
			wantVersion: "v1.2.3",
		},
		{
			name: "release build: the stamp wins over VCS",
			bi: &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.2.3-0.20260101000000-0123456789ab"},
				Settings: settings("-trimpath", "true", "vcs.revision", "0123456789abcdef", "vcs.time", "2026-01-01T00:00:00Z", "vcs.modified", "false", "GOOS", "linux", "GOARCH", "arm", "GOARM", "7")},
			stampV: "v1.3.0", stampC: "feedface",
			wantVersion: "v1.3.0", wantCommit: "feedface", wantPlatform: "linux/arm/v7", wantReproducible: true, wantModified: "false",
		},
		{
			name: "uncommitted changes are not reproducible",
			bi: &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.0.0-20260101000000-0123456789ab+dirty"},
				Settings: settings("-trimpath", "true", "vcs.revision", "0123456789abcdef", "vcs.modified", "true")},
			wantVersion: "v0.0.0-20260101000000-0123456789ab+dirty", wantCommit: "0123456789abcdef", wantModified: "true",
		},
		{
			name:   "a stamped commit alone proves no clean tree",
			bi:     &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}, Settings: settings("-trimpath", "true")},
			stampV: "v1.0.0", stampC: "0123", wantVersion: "v1.0.0", wantCommit: "0123",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fromBuildInfo(tc.bi, tc.stampV, tc.stampC, tc.stampD)
			if in.Version != tc.wantVersion {
				t.Errorf("Version = %q, want %q", in.Version, tc.wantVersion)
			}
			if tc.wantCommit != "" && in.Commit != tc.wantCommit {
				t.Errorf("Commit = %q, want %q", in.Commit, tc.wantCommit)
			}
			if tc.wantPlatform != "" && in.Platform != tc.wantPlatform {
				t.Errorf("Platform = %q, want %q", in.Platform, tc.wantPlatform)
			}
			if in.Reproducible != tc.wantReproducible {
				t.Errorf("Reproducible = %v, want %v", in.Reproducible, tc.wantReproducible)
			}
			got := ""
			if in.Modified != nil {
				got = map[bool]string{true: "true", false: "false"}[*in.Modified]
			}
			if got != tc.wantModified {
				t.Errorf("Modified = %q, want %q", got, tc.wantModified)
			}
			if in.Contract != Contract {
				t.Errorf("Contract = %d", in.Contract)
			}
		})
	}
}

func TestContractMarkerMatchesContract(t *testing.T) {
	t.Parallel()
	want := "sealenv-inject-contract: " + strconv.Itoa(Contract) + "\n"
	if ContractMarker() != want {
		t.Fatalf("ContractMarker() = %q, want %q: change both together", ContractMarker(), want)
	}
}

// TestStandardLibraryOnly keeps the package fit for the slim injector.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if deps := strings.Fields(string(out)); len(deps) != 1 || deps[0] != "github.com/sealenv/sealenv/internal/version" {
		t.Errorf("internal/version imports more than the standard library: %v", deps)
	}
}
