// Package version says which sealenv build is running: the release version,
// the commit and date it was built from, and whether the build can be
// reproduced. Both binaries (sealenv and the slim sealenv-inject) use it, so
// it imports the standard library only.
//
// # Where the version comes from
//
// A release build stamps it at link time:
//
//	go build -trimpath -ldflags "-X github.com/sealenv/sealenv/internal/version.version=v1.2.3 \
//	    -X github.com/sealenv/sealenv/internal/version.commit=$(git rev-parse HEAD) \
//	    -X github.com/sealenv/sealenv/internal/version.date=2026-01-02T03:04:05Z"
//
// Without a stamp, the Go build information is read: `go install
// github.com/sealenv/sealenv/cmd/sealenv@v1.2.3` reports v1.2.3, and a build
// in a git checkout reports the pseudo-version, revision and commit time Go
// records. A build with neither says "dev".
//
// # The injector contract
//
// [Contract] numbers what `sealenv wrap` relies on in an injector: the flags
// it writes into the entrypoint and the bundle formats the injector reads.
// The injector carries it as the text "sealenv-inject-contract: N" in its
// binary, which `sealenv wrap` finds without running it (the injector may be
// built for another architecture). Change it when a wrapped entrypoint would
// no longer work with an older injector.
package version

import (
	"runtime"
	"runtime/debug"
	"strconv"
)

// Set with -ldflags -X by release builds; empty otherwise.
var (
	version string
	commit  string
	date    string
)

// Contract is the version of the contract between `sealenv wrap` and the
// injector; see the package documentation. 1: the first release. 2: a
// wrapped entrypoint may pass --signers (signed bundles), which an
// injector of contract 1 would refuse as an unknown flag. 3: it may pass
// --names (the names the policy declares).
const Contract = 3

// contractMarker is how [Contract] appears in the injector binary. It must
// stay a literal: [ContractMarker] returns it so that the linker keeps it.
const contractMarker = "sealenv-inject-contract: 3\n"

// ContractMarker returns the text that marks a binary as a sealenv injector
// of contract [Contract]; the injector prints it with --version so that it
// is linked into the binary.
func ContractMarker() string { return contractMarker }

// Module is the module path of sealenv; MainInjector and MainCLI are the
// package paths of its two commands.
const (
	Module       = "github.com/sealenv/sealenv"
	MainCLI      = Module + "/cmd/sealenv"
	MainInjector = Module + "/cmd/sealenv-inject"
)

// Info describes a build.
type Info struct {
	Version   string `json:"version"`    // v1.2.3, a pseudo-version, or "dev"
	Commit    string `json:"commit"`     // the full revision, "" if unknown
	Date      string `json:"date"`       // the commit time (RFC 3339), "" if unknown
	GoVersion string `json:"go_version"` // go1.26.8
	Platform  string `json:"platform"`   // linux/amd64
	// Trimpath is true when the build ran with -trimpath (no local paths
	// in the binary).
	Trimpath bool `json:"trimpath"`
	// Modified is the vcs.modified the Go build recorded: true when the
	// checkout had uncommitted changes, nil when Go recorded no VCS state.
	Modified *bool `json:"vcs_modified"`
	// Reproducible is true when the source and flags are known well enough
	// to rebuild the same bytes with the same toolchain: -trimpath, and
	// either a recorded commit with no uncommitted change or a module
	// version checked against go.sum (go install ...@version).
	Reproducible bool `json:"reproducible"`
	// Contract is [Contract].
	Contract int `json:"injector_contract"`
}

// Get returns the running build's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version, commit, date)
}

// String returns the running build's version: the stamped one, else the
// module version Go recorded, else "dev".
func String() string { return Get().Version }

func fromBuildInfo(bi *debug.BuildInfo, stampVersion, stampCommit, stampDate string) Info {
	in := Info{
		Version:   stampVersion,
		Commit:    stampCommit,
		Date:      stampDate,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		Contract:  Contract,
	}
	if bi != nil {
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		goos, goarch, goarm := runtime.GOOS, runtime.GOARCH, ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "-trimpath":
				in.Trimpath = s.Value == "true"
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.time":
				if in.Date == "" {
					in.Date = s.Value
				}
			case "vcs.modified":
				m, err := strconv.ParseBool(s.Value)
				if err == nil {
					in.Modified = &m
				}
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			case "GOARM":
				goarm = s.Value
			}
		}
		in.Platform = goos + "/" + goarch
		if goarm != "" {
			in.Platform += "/v" + goarm
		}
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	clean := in.Commit != "" && in.Modified != nil && !*in.Modified
	fromProxy := bi != nil && bi.Main.Sum != ""
	in.Reproducible = in.Trimpath && (clean || fromProxy)
	return in
}
