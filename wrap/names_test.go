package wrap_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/wrap"
)

// TestWrapDeclaredNames: with the names the policy declares, wrap puts
// them in the sealed layer (so the image digest covers them), points the
// entrypoint's --names at them and labels their digest; a bundle with an
// undeclared key is refused at wrap time. The injector taken from the
// layer then runs the declared bundle and refuses a forged one that adds a
// name, with 125.
func TestWrapDeclaredNames(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sealed := func(keys ...string) []byte {
		b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := b.Set(k, []byte(rand.Text())); err != nil {
				t.Fatal(err)
			}
		}
		data, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	o := opts(wrap.Bundle{Name: "prod.env", Data: sealed("API_TOKEN", "DATABASE_URL")})
	o.Names = []string{"DATABASE_URL", "API_TOKEN", "SMTP_PASSWORD"}
	img, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if got := strings.Join(cf.Config.Entrypoint, " "); !strings.Contains(got, " --names "+wrap.NamesPath+" -- /app") {
		t.Errorf("entrypoint %q has no --names", got)
	}
	layers, _ := img.Layers()
	files := layerFiles(t, layers[len(layers)-1])
	names := files[strings.TrimPrefix(wrap.NamesPath, "/")]
	if !strings.HasSuffix(string(names.data), "\nAPI_TOKEN\nDATABASE_URL\nSMTP_PASSWORD\n") || names.h.Mode != 0o444 {
		t.Errorf("names file %q (mode %o)", names.data, names.h.Mode)
	}
	sum := sha256.Sum256(names.data)
	if cf.Config.Labels[wrap.LabelNames] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("names label %q", cf.Config.Labels[wrap.LabelNames])
	}

	// A bundle with a key the policy does not declare is refused now.
	bad := opts(wrap.Bundle{Name: "prod.env", Data: sealed("API_TOKEN", "NODE_EXTRA_THING")})
	bad.Names = o.Names
	if _, err := wrap.Image(baseImage(t, runtime.GOARCH, []string{"/app"}, nil), bad); !errors.Is(err, wrap.ErrInvalidBundle) || !strings.Contains(err.Error(), "key NODE_EXTRA_THING is not among the names the policy declares") {
		t.Errorf("undeclared key: %v", err)
	}

	// The injector and the list as the image holds them.
	if runtime.GOOS != "linux" {
		return
	}
	dir := t.TempDir()
	inj := filepath.Join(dir, "sealenv-inject")
	os.WriteFile(inj, files[strings.TrimPrefix(wrap.InjectorPath, "/")].data, 0o755)
	list := filepath.Join(dir, "names")
	os.WriteFile(list, names.data, 0o444)
	forged := filepath.Join(dir, "forged.env")
	os.WriteFile(forged, sealed("API_TOKEN", "FLASK_APPX"), 0o644)
	good := filepath.Join(dir, "good.env")
	os.WriteFile(good, sealed("API_TOKEN"), 0o644)
	run := func(bundle string) (int, string) {
		cmd := exec.Command(inj, "--bundle", bundle, "--names", list, "--no-access-log", "--", "true")
		cmd.Env = []string{seal.EnvAgeKey + "=" + id.String(), "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := run(good); code != 0 {
		t.Errorf("the declared bundle: exit %d: %s", code, out)
	}
	if code, out := run(forged); code != 125 || !strings.Contains(out, "key FLASK_APPX is not among the names") {
		t.Errorf("the forged bundle: exit %d: %s", code, out)
	}
}
