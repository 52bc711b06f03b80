package wrap

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/sealenv/sealenv/internal/version"
)

// ErrNotInjector is returned for a binary that is not a sealenv injector of
// a contract this sealenv can use; see [CheckInjector].
var ErrNotInjector = errors.New("not a sealenv injector")

// InjectorInfo is what [CheckInjector] learned about an injector binary.
type InjectorInfo struct {
	Platform string // "linux/amd64"
	Package  string // the main package its Go build information names
	Module   string // the main module's version Go recorded ("(devel)" for a local build)
	Contract int    // the wrap contract it carries
}

var contractPattern = regexp.MustCompile(`sealenv-inject-contract: ([0-9]{1,4})\n`)

// CheckInjector verifies that data is a sealenv injector that a wrapped
// entrypoint can rely on: a static linux ELF executable whose Go build
// information names the module's cmd/sealenv-inject main package, and which
// carries the wrap contract of this sealenv (see [version.Contract]). It
// reads the binary only; it never runs it, so an injector for another
// architecture is checked too.
func CheckInjector(data []byte) (InjectorInfo, error) {
	var in InjectorInfo
	platform, err := ELFPlatform(data)
	if err != nil {
		return in, fmt.Errorf("%w: %v", ErrNotInjector, err)
	}
	in.Platform = platform
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return in, fmt.Errorf("%w: %v", ErrNotInjector, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return in, fmt.Errorf("%w: an ELF %v file, not an executable", ErrNotInjector, f.Type)
	}
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return in, fmt.Errorf("%w: no Go build information (not a Go program)", ErrNotInjector)
	}
	in.Package, in.Module = bi.Path, bi.Main.Version
	if bi.Path != version.MainInjector {
		return in, fmt.Errorf("%w: its Go build information names the main package %q, not %s", ErrNotInjector, bi.Path, version.MainInjector)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return in, fmt.Errorf("%w: dynamically linked (it needs a C library the image may not have); build it with CGO_ENABLED=0", ErrNotInjector)
		}
	}
	m := contractPattern.FindSubmatch(data)
	if m == nil {
		return in, fmt.Errorf("%w: it carries no wrap contract (built before sealenv recorded one); use the sealenv-inject of this sealenv's release", ErrNotInjector)
	}
	in.Contract, _ = strconv.Atoi(string(m[1])) // the pattern allows digits only
	if in.Contract != version.Contract {
		return in, fmt.Errorf("%w: it has wrap contract %d, this sealenv writes entrypoints for contract %d; use the sealenv-inject of this sealenv's release", ErrNotInjector, in.Contract, version.Contract)
	}
	return in, nil
}
