package author

import (
	"crypto/sha256"
	"fmt"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
)

// stableCipher encrypts the same value at the same path to the same
// ciphertext for as long as the data key stays. sops's cipher does that
// for the values it decrypted (its stash of IVs, so that an edit changes
// only the lines it changes); this extends it to values set since, so that
// every rendering of one bundle agrees (see [Bundle.Marshal]). An IV is
// reused only for the same value with the same additional data under the
// same key, which reveals nothing the identical ciphertext would not.
type stableCipher struct {
	aes.Cipher
	seen map[[32]byte]string
}

func newCipher() *stableCipher {
	return &stableCipher{Cipher: aes.NewCipher(), seen: map[[32]byte]string{}}
}

// Encrypt is aes.Cipher's, remembered.
func (c *stableCipher) Encrypt(v any, key []byte, ad string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%T\x00%d\x00%s\x00", v, len(ad), ad)
	switch v := v.(type) {
	case string:
		h.Write([]byte(v))
	case sops.Comment:
		h.Write([]byte(v.Value))
	default:
		fmt.Fprint(h, v)
	}
	var k [32]byte
	h.Sum(k[:0])
	if s, ok := c.seen[k]; ok {
		return s, nil
	}
	s, err := c.Cipher.Encrypt(v, key, ad)
	if err == nil {
		c.seen[k] = s
	}
	return s, err
}

// forget drops every remembered ciphertext (a new data key).
func (c *stableCipher) forget() { clear(c.seen) }
