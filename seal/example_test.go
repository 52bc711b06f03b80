package seal_test

import (
	"crypto/rand"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// sealed returns a dotenv bundle wrapped to id, as `sealenv seal` and
// `sealenv set` write it (package seal/author), and the value it seals
// under DATABASE_PASSWORD.
func sealed(id *age.X25519Identity) (bundle []byte, password string) {
	password = rand.Text()
	w, _ := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	w.Set("DATABASE_PASSWORD", []byte(password))
	w.Set("LOG_LEVEL", []byte("debug"))
	bundle, _ = w.Marshal()
	return bundle, password
}

// ExampleOpen opens a bundle with an identity it is wrapped to. The MAC is
// verified before any value is returned; another identity opens nothing.
func ExampleOpen() {
	id, _ := age.GenerateX25519Identity()
	data, password := sealed(id)

	b, err := seal.Open(seal.FormatDotenv, data, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Zero()
	for _, s := range b.Secrets {
		fmt.Println(s.Name)
	}
	fmt.Println("the sealed password:", string(b.Lookup("DATABASE_PASSWORD")) == password)
	fmt.Println("LOG_LEVEL:", string(b.Lookup("LOG_LEVEL")))

	other, _ := age.GenerateX25519Identity()
	_, err = seal.Open(seal.FormatDotenv, data, other)
	fmt.Println("another identity:", errors.Is(err, seal.ErrIncorrectIdentity))
	// Output:
	// DATABASE_PASSWORD
	// LOG_LEVEL
	// the sealed password: true
	// LOG_LEVEL: debug
	// another identity: true
}

// ExampleInspect reads what a bundle shows without any key: its names,
// whether each value is encrypted, and whom it is wrapped to.
func ExampleInspect() {
	id, _ := age.GenerateX25519Identity()
	data, _ := sealed(id)

	info, err := seal.Inspect(seal.FormatDotenv, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Keys, info.Encrypted)
	fmt.Println("wrapped to the identity's recipient:", len(info.Recipients) == 1 && info.Recipients[0] == id.Recipient().String())
	// Output:
	// [DATABASE_PASSWORD LOG_LEVEL] [true true]
	// wrapped to the identity's recipient: true
}
