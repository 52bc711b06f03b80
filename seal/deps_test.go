package seal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFence keeps the slim reader slim: only the standard
// library, age (with the x/crypto and x/sys parts it uses) and yaml.v3.
// In particular never sops/v3, which links every cloud KMS SDK.
func TestDependencyFence(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sealenv/sealenv/seal").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"filippo.io/age", "filippo.io/edwards25519", "filippo.io/hpke",
		"golang.org/x/crypto/", "golang.org/x/sys/", "golang.org/x/term",
		"gopkg.in/yaml.v3", "github.com/sealenv/sealenv/seal",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages; the check lost its teeth", len(deps))
	}
	for _, d := range deps {
		first, _, _ := strings.Cut(d, "/")
		if !strings.Contains(first, ".") { // standard library
			continue
		}
		ok := false
		for _, a := range allowed {
			if d == a || strings.HasPrefix(d, strings.TrimSuffix(a, "/")+"/") || strings.HasPrefix(d, a) {
				ok = true
			}
		}
		if !ok || strings.Contains(d, "getsops") {
			t.Errorf("seal depends on %s", d)
		}
	}
}
