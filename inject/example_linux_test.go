package inject_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// ExampleRun starts a command with a bundle's values in its environment.
// With Redact the injector supervises the command (instead of replacing
// itself with it, the default) and replaces every sealed value in its
// output; Run returns the command's exit status. The identity comes from
// SEALENV_AGE_KEY here (the runtime would mount a file under
// /run/secrets), and the command never sees that variable.
func ExampleRun() {
	id, _ := age.GenerateX25519Identity()
	w, _ := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	w.Set("DATABASE_PASSWORD", []byte(rand.Text()))
	data, _ := w.Marshal()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	bundle := filepath.Join(dir, "prod.env") // ciphertext only
	os.WriteFile(bundle, data, 0o644)

	code, err := inject.Run(inject.Config{
		Args:        []string{"sh", "-c", `echo "password: $DATABASE_PASSWORD"; echo "key: ${SEALENV_AGE_KEY:-not set}"; exit 3`},
		Bundles:     []string{bundle},
		Environ:     []string{"PATH=/usr/bin:/bin", seal.EnvAgeKey + "=" + id.String()},
		Redact:      true,
		NoAccessLog: true,
		Stderr:      io.Discard, // the warning that the key came from a variable
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit status", code)
	// Output:
	// password: [REDACTED:DATABASE_PASSWORD]
	// key: not set
	// exit status 3
}
