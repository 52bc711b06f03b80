package bundlefile

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
)

// PlaintextError names values a bundle stores unencrypted, which a write
// such as adopt would record as they are, that nobody said are not secret.
type PlaintextError struct {
	Bundle string
	Keys   []string
}

func (e *PlaintextError) Error() string {
	verb := "are"
	if len(e.Keys) == 1 {
		verb = "is"
	}
	return fmt.Sprintf("%s: %s %s stored unencrypted (the file's sops rules leave them in plaintext)", e.Bundle, strings.Join(e.Keys, ", "), verb)
}

// CheckPlaintext returns a [*PlaintextError] naming every non-empty value
// the bundle's file stores unencrypted by its sops rules
// (unencrypted_suffix, unencrypted_regex, outside encrypted_suffix or
// encrypted_regex) that neither allowed nor the policy's public: list
// names. It reads the file as it is now (the write holds its lock).
func (d *Draft) CheckPlaintext(allowed []string) error {
	data, err := os.ReadFile(d.real)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Path, fsutil.Reason(err))
	}
	info, err := seal.Inspect(d.Format(), data)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Path, err)
	}
	_, p, err := d.Env()
	if err != nil {
		return err
	}
	var refused []string
	for _, k := range info.Plaintext() {
		if slices.Contains(allowed, k) || (p != nil && p.IsPublic(k)) {
			continue
		}
		refused = append(refused, k)
	}
	if len(refused) > 0 {
		return &PlaintextError{Bundle: d.Path, Keys: refused}
	}
	return nil
}
