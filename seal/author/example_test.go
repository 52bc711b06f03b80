package author_test

import (
	"crypto/rand"
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// ExampleNew seals two values to one recipient. The result is a SOPS
// dotenv file: the key names stay readable, each value is encrypted on its
// own, and the sops CLI reads and edits it.
func ExampleNew() {
	id, _ := age.GenerateX25519Identity()
	b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := b.Set("API_TOKEN", []byte(rand.Text())); err != nil {
		fmt.Println(err)
		return
	}
	if err := b.Set("LOG_LEVEL", []byte("debug")); err != nil {
		fmt.Println(err)
		return
	}
	data, err := b.Marshal()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, _ := strings.Cut(line, "=")
		if name == "API_TOKEN" || name == "LOG_LEVEL" {
			fmt.Println(name, strings.HasPrefix(value, "ENC[AES256_GCM,data:"))
		}
	}
	fmt.Println("recipients:", len(b.Recipients()), b.Recipients()[0] == id.Recipient().String())
	// Output:
	// API_TOKEN true
	// LOG_LEVEL true
	// recipients: 1 true
}
