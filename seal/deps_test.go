package seal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFence keeps the slim reader slim: only the standard
// library, age's core (with the x/crypto and x/sys parts it uses) and
// yaml.v3. Never sops/v3, which links every cloud KMS SDK, and not agessh or
// the plugin client either (package seal/identities has those), which cost
// the injector about 1.2 MiB.
func TestDependencyFence(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sealenv/sealenv/seal").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"filippo.io/age", "filippo.io/hpke",
		"golang.org/x/crypto/", "golang.org/x/sys/",
		"gopkg.in/yaml.v3", "github.com/sealenv/sealenv/seal",
	}
	forbidden := []string{"getsops", "filippo.io/age/agessh", "filippo.io/age/plugin", "golang.org/x/crypto/ssh", "seal/author", "seal/identities"}
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
		for _, f := range forbidden {
			if strings.Contains(d, f) {
				ok = false
			}
		}
		if !ok {
			t.Errorf("seal depends on %s", d)
		}
	}
}
