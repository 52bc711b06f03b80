package seal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFence keeps the slim reader slim: only the standard
// library, age's core (with the x/crypto and x/sys parts it uses) and
// yaml.v3, and of this module only the standard-library-only internal/fserr.
// Never sops/v3, which links every cloud KMS SDK, and not agessh or
// the plugin client either (package seal/identities has those), which cost
// the injector about 1.2 MiB.
func TestDependencyFence(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/sealenv/sealenv/seal").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"filippo.io/age", "filippo.io/hpke",
		"golang.org/x/crypto/", "golang.org/x/sys/",
		"gopkg.in/yaml.v3", "github.com/sealenv/sealenv/seal",
		"github.com/sealenv/sealenv/internal/fserr", // standard library only
	}
	// internal/fsutil (locks, journal, atomic writes) is the writing side's;
	// the reader words file errors with internal/fserr.
	forbidden := []string{"getsops", "filippo.io/age/agessh", "filippo.io/age/plugin", "golang.org/x/crypto/ssh", "seal/author", "seal/identities", "seal/recipients", "internal/fsutil"}
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

// TestGroundFloor: nothing under seal/ imports a package above it. The
// bundle format is the ground floor; the policy, the fleet operations, the
// audit, wrap, the injector and the commands build on it, never the other
// way round (age keeps agessh a leaf; sops keeps key updates in its command
// tree).
func TestGroundFloor(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/sealenv/sealenv/seal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/sealenv/sealenv/"
	deps := strings.Fields(string(out))
	ours := 0
	for _, d := range deps {
		rest, ok := strings.CutPrefix(d, mod)
		if !ok {
			continue
		}
		ours++
		top, _, _ := strings.Cut(rest, "/")
		switch top {
		case "seal", "internal":
		default:
			t.Errorf("seal/... depends on %s", d)
		}
		if strings.HasPrefix(rest, "internal/testutil/") {
			t.Errorf("seal/... depends on %s", d)
		}
	}
	if ours < 4 {
		t.Fatalf("go list named %d of our packages; the check lost its teeth", ours)
	}
}
