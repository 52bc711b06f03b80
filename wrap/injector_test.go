package wrap_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/wrap"
)

// TestCheckInjector: a real sealenv-inject passes for both architectures;
// /bin/ls, another Go program, and injectors with another or no wrap
// contract are refused with the reason.
func TestCheckInjector(t *testing.T) {
	for p, data := range injectors {
		in, err := wrap.CheckInjector(data)
		if err != nil {
			t.Fatalf("the real injector for %s: %v", p, err)
		}
		if in.Platform != p || in.Contract != 1 || in.Package != "github.com/sealenv/sealenv/cmd/sealenv-inject" {
			t.Errorf("%s: %+v", p, in)
		}
	}
	real := injectors["linux/amd64"]
	marker := []byte("sealenv-inject-contract: 1\n")
	if bytes.Count(real, marker) != 1 {
		t.Fatalf("the injector carries the contract marker %d times, want 1", bytes.Count(real, marker))
	}
	ls, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip("no /bin/ls")
	}
	app := filepath.Join(t.TempDir(), "app")
	build := exec.Command("go", "build", "-trimpath", "-o", app, "github.com/sealenv/sealenv/examples/app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/app: %s", out)
	}
	goApp, _ := os.ReadFile(app)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"/bin/ls":         {ls, "not a Go program"},
		"a text file":     {[]byte("#!/bin/sh\nexec /app\n"), "not an ELF executable"},
		"another Go main": {goApp, `names the main package "github.com/sealenv/sealenv/examples/app"`},
		"another contract": {bytes.Replace(real, marker, []byte("sealenv-inject-contract: 7\n"), 1),
			"wrap contract 7, this sealenv writes entrypoints for contract 1"},
		"no contract": {bytes.Replace(real, marker, []byte("sealenv-inject-contraxt: 1\n"), 1), "carries no wrap contract"},
	} {
		_, err := wrap.CheckInjector(tc.data)
		if !errors.Is(err, wrap.ErrNotInjector) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrNotInjector saying %q", name, err, tc.want)
		}
	}

	// wrap refuses them unless told to accept any injector.
	o := opts(bundle(t, "prod.env", "K"))
	o.Injectors = []wrap.Injector{{Platform: "linux/amd64", Data: goApp}}
	base := baseImage(t, "amd64", []string{"/app"}, nil)
	if _, err := wrap.Image(base, o); !errors.Is(err, wrap.ErrNotInjector) {
		t.Fatalf("wrap with another Go program as the injector: %v", err)
	}
	o.AnyInjector = true
	if _, err := wrap.Image(base, o); err != nil {
		t.Fatalf("wrap with AnyInjector: %v", err)
	}
}
