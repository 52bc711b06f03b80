package testutil

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const prefix = "github.com/sealenv/sealenv/internal/testutil"

// TestFence: no package outside internal/testutil imports one of its
// packages from a non-test file. Test files may (that is what the helpers
// are for), and the fence counts them, so that it fails if it stops
// seeing them.
func TestFence(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "github.com/sealenv/sealenv/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	packages, testers := 0, 0
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		packages++
		if p.ImportPath == prefix || strings.HasPrefix(p.ImportPath, prefix+"/") {
			continue // the helpers may use each other
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, prefix+"/") {
				t.Errorf("%s imports %s from a non-test file; test helpers are for _test.go files only", p.ImportPath, imp)
			}
		}
		for _, imp := range append(p.TestImports, p.XTestImports...) {
			if strings.HasPrefix(imp, prefix+"/") {
				testers++
				break
			}
		}
	}
	if packages < 30 || testers < 10 {
		t.Fatalf("go list named %d packages, %d of whose tests use a helper; the fence lost its teeth", packages, testers)
	}
}
