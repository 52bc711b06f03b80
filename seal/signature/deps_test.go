package signature_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: the verifier the injector links needs nothing
// but the standard library; golang.org/x/crypto/ssh alone would add about
// 0.9 MiB to the injector.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/sealenv/sealenv/seal/signature").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages; the check lost its teeth", len(deps))
	}
	for _, d := range deps {
		first, _, _ := strings.Cut(d, "/")
		if strings.Contains(first, ".") && d != "github.com/sealenv/sealenv/seal/signature" {
			t.Errorf("seal/signature depends on %s", d)
		}
	}
}
