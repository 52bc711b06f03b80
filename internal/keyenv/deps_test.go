package keyenv

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: the injector links this package, so it links
// nothing but the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "github.com/sealenv/sealenv/internal/keyenv" {
		t.Fatalf("keyenv depends on more than the standard library: %v", deps)
	}
}
